"""Finding, checking, configuring and calling plugins.

Installed plugins are found through the ``toolbox.plugins`` entry-point group; only those named
in ``TOOLBOX_PLUGINS`` (or ``plugins = [...]`` in ``toolbox.toml``) are imported. Every problem
at start-up raises :class:`PluginError` naming the plugin and what to do (``toolbox doctor``
collects them all instead).
"""

from __future__ import annotations

import contextvars
import functools
import importlib.util
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import importlib_metadata
import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from pydantic import BaseModel

from toolbox_core import ENTRY_POINT_GROUP, KERNEL_API_VERSION, __version__, hookspecs
from toolbox_core.asyncutil import aresolve, resolve
from toolbox_core.config import ConfigError, load_plugin_settings
from toolbox_core.plugins.builtin import BUILTIN_PLUGINS
from toolbox_core.plugins.guard import ProviderGuard

log = logging.getLogger("toolbox.plugins")
hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT)


class PluginError(Exception):
    """A plugin cannot be loaded; the message names the plugin and what to do about it."""

    def __init__(self, plugin: str, problem: str, fix: str = "") -> None:
        self.plugin = plugin
        self.problem = problem
        self.fix = fix
        super().__init__(f"plugin {plugin!r}: {problem}" + (f" — {fix}" if fix else ""))


@dataclass
class PluginInfo:
    """An installed or built-in plugin, for ``toolbox plugins`` and ``/admin/plugins``."""

    name: str
    version: str
    distribution: str
    module: str
    enabled: bool
    builtin: bool = False
    kernel_api: str | None = None
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "module": self.module,
            "enabled": self.enabled,
            "builtin": self.builtin,
            "kernel_api": self.kernel_api,
            "hooks": self.hooks,
        }


def discover() -> dict[str, importlib_metadata.EntryPoint]:
    """Installed plugins by name, from the ``toolbox.plugins`` entry-point group."""
    found: dict[str, importlib_metadata.EntryPoint] = {}
    for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def _distribution_of(ep: importlib_metadata.EntryPoint) -> tuple[str, str]:
    """``(version, name)`` of the distribution that declares ``ep``, ``"unknown"`` without one.

    The metadata file is read and parsed once (``dist.version`` and ``dist.name`` each parse it).
    """
    dist = ep.dist
    if dist is None:
        return "unknown", "unknown"
    metadata = dist.metadata
    return metadata["Version"], metadata["Name"]


class PluginManager:
    """The kernel's pluggy manager plus what it knows about each plugin."""

    def __init__(self, trace: bool = False) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.settings: dict[str, BaseModel] = {}
        self.installed: dict[str, importlib_metadata.EntryPoint] = {}
        self.trace = trace

    # ------------------------------------------------------------------ loading
    def load(self, enabled: Iterable[str], builtins: Iterable[str] = BUILTIN_PLUGINS,
             settings_overrides: dict[str, dict[str, Any]] | None = None,
             errors: list[PluginError] | None = None) -> None:
        """Register the kernel's built-in plugins, then every enabled installed plugin.

        ``settings_overrides`` maps a plugin name to values that win over its environment and
        TOML section (the test kit's ``make_toolbox(plugin_settings=...)``).

        Raises :class:`PluginError` for an unknown name, an import failure, an unsupported
        kernel API, or missing or invalid settings. With ``errors`` (``toolbox doctor``), each
        enabled plugin's problem is appended there instead and loading goes on: that plugin is
        left unregistered (none of its hooks run) and listed as disabled.
        """
        for module_name in builtins:
            module = _import(module_name, module_name)
            name = getattr(module, "PLUGIN_NAME", module_name)
            self._register(name, module, version=__version__, distribution="toolbox-core", builtin=True)

        self.installed = discover()
        wanted = list(dict.fromkeys(n.strip() for n in enabled if n.strip()))
        for name in wanted:
            try:
                self._load_installed(name)
            except PluginError as exc:
                record_or_raise(exc, errors)

        for name in list(self.plugins):
            try:
                self._load_settings(name, (settings_overrides or {}).get(name))
            except PluginError as exc:
                record_or_raise(exc, errors)
                self._unregister(name)

        for name, ep in self.installed.items():
            if name not in self.plugins:
                version, distribution = _distribution_of(ep)
                self.plugins[name] = PluginInfo(
                    name=name, version=version, distribution=distribution, module=ep.value, enabled=False,
                )

    def _load_installed(self, name: str) -> None:
        """Import enabled plugin ``name``, check its kernel API and register it (settings come later)."""
        ep = self.installed.get(name)
        if ep is None:
            known = ", ".join(sorted(self.installed)) or "none"
            raise PluginError(
                name,
                "is enabled in config but not installed",
                f"installed plugins: {known}; pip install the plugin or remove it from TOOLBOX_PLUGINS",
            )
        try:
            module = ep.load()
        except Exception as exc:  # the cause is what the operator needs
            raise PluginError(
                name, f"failed to import {ep.value}: {type(exc).__name__}: {exc}",
                "fix the installation or disable the plugin",
            ) from exc
        version, distribution = _distribution_of(ep)
        self._check_kernel_api(name, module)
        self._register(name, module, version=version, distribution=distribution, builtin=False)

    def _unregister(self, name: str) -> None:
        """Take plugin ``name`` out of pluggy and of :attr:`plugins`, so none of its hooks run."""
        self.pm.unregister(name=name)
        del self.plugins[name]
        self.settings.pop(name, None)

    def _register(self, name: str, module: ModuleType, *, version: str, distribution: str, builtin: bool) -> None:
        if self.pm.get_plugin(name) is not None:
            raise PluginError(name, "is registered twice", "remove the duplicate from TOOLBOX_PLUGINS")
        try:
            self.pm.register(module, name=name)
            self.pm.check_pending()  # a hookimpl whose name matches no hookspec (a typo)
        except pluggy.PluginValidationError as exc:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            raise PluginError(name, f"has an invalid hook implementation: {exc}", "check it against toolbox_core/hookspecs.py") from exc
        hooks = sorted(
            caller.name for caller in self.pm.get_hookcallers(module) or [] if caller.name
        )
        self.plugins[name] = PluginInfo(
            name=name,
            version=version,
            distribution=distribution,
            module=module.__name__,
            enabled=True,
            builtin=builtin,
            kernel_api=getattr(module, "KERNEL_API", None),
            hooks=hooks,
        )

    @staticmethod
    def _check_kernel_api(name: str, module: ModuleType) -> None:
        declared = getattr(module, "KERNEL_API", None)
        if not declared:
            raise PluginError(name, "declares no KERNEL_API range", 'add KERNEL_API = ">=1.0,<2" to the plugin module')
        try:
            spec = SpecifierSet(declared)
        except InvalidSpecifier as exc:
            raise PluginError(name, f"has an invalid KERNEL_API {declared!r}", "use a PEP 440 range like '>=1.0,<2'") from exc
        if Version(KERNEL_API_VERSION) not in spec:
            raise PluginError(
                name,
                f"supports kernel API {declared} but this kernel offers {KERNEL_API_VERSION}",
                "install a plugin release made for this kernel, or a kernel the plugin supports",
            )

    def _load_settings(self, name: str, overrides: dict[str, Any] | None = None) -> None:
        plugin = self.pm.get_plugin(name)
        impl = getattr(plugin, "settings_model", None)
        if impl is None:
            return
        model = impl()
        if model is None:
            return
        try:
            self.settings[name] = load_plugin_settings(name, model, overrides)
        except ConfigError as exc:
            raise PluginError(name, f"invalid settings: {exc}", "set the variables named, or the [" + name + "] section of toolbox.toml") from exc

    def disabled_version_locations(self) -> list[Path]:
        """Alembic version folders of installed plugins that are not enabled.

        Found on disk, without importing the plugin (a disabled plugin is never imported): the
        ``migrations/versions`` folder of the plugin's top-level package, or of a package one
        level below it — where ``toolbox plugin new`` and the integrations keep it.
        """
        found: list[Path] = []
        for name, info in self.plugins.items():
            ep = self.installed.get(name)
            if info.enabled or info.builtin or ep is None:
                continue
            found.extend(p for p in _package_version_folders(ep.value.split(":")[0]) if p not in found)
        return found

    # ------------------------------------------------------------------ calling
    def enable_tracing(self) -> None:
        """Log every hook call with its plugin and duration at DEBUG level (``TOOLBOX_TRACE_HOOKS=1``).

        Calls go through ``pm.hook``, so pluggy's own tracing (``pm.enable_tracing()``,
        ``pm.add_hookcall_monitoring``) sees them too.
        """
        self.trace = True

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call hook ``hook_name`` through pluggy; ``[(plugin_name, result), ...]``.

        The call goes through ``pm.hook.<name>``, so hookwrappers (``@hookimpl(wrapper=True)``)
        and pluggy's tracing see it. Results come in registration order (kernel built-ins
        first; ``tryfirst``/``trylast`` move an implementation as pluggy does, reversed).
        Coroutine results are run to completion. ``None`` results are dropped.
        """
        results = [(name, resolve(value)) for name, value in self._call(hook_name, kwargs)]
        return [(name, value) for name, value in results if value is not None]

    async def acall_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Async twin of :meth:`call_each`: coroutine results are awaited on the caller's loop."""
        results = [(name, await aresolve(value)) for name, value in self._call(hook_name, kwargs)]
        return [(name, value) for name, value in results if value is not None]

    def _call(self, hook_name: str, kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
        caller = getattr(self.pm.hook, hook_name)
        _attribute(caller)
        records: list[tuple[str, Any, float]] = []
        token = _RECORDS.set(records)
        try:
            values = caller(**kwargs)
        finally:
            _RECORDS.reset(token)
        owners: dict[int, list[str]] = {}
        for name, value, took_ms in records:
            if self.trace:
                log.debug("hook %s on %s took %.2f ms", hook_name, name, took_ms)
            owners.setdefault(id(value), []).append(name)
        named = []
        for value in values:  # in call order, as the records are (last-registered first)
            names = owners.get(id(value))
            named.append((names.pop(0) if names else hook_name, value))
        return named[::-1]

    def collect(self, hook_name: str, **kwargs: Any) -> dict[str, Any]:
        """Providers from a list-returning hook, indexed by their ``id``; a duplicate id is an error.

        Each provider is wrapped in :class:`ProviderGuard`, so calling it inside an open
        database transaction fails loudly instead of holding locks during network I/O.
        """
        index: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for plugin_name, items in self.call_each(hook_name, **kwargs):
            for item in items:
                item_id = getattr(item, "id", None) or getattr(item, "name", None)
                if not item_id:
                    raise PluginError(plugin_name, f"{hook_name} returned an object without an id: {item!r}")
                if item_id in index:
                    raise PluginError(
                        plugin_name,
                        f"{hook_name}: id {item_id!r} is already provided by plugin {owners[item_id]!r}",
                        "enable only one of them, or give one a different id",
                    )
                index[item_id] = ProviderGuard(item)
                owners[item_id] = plugin_name
        return index


#: (plugin, result) pairs of the hook call in progress in this thread or task.
_RECORDS: contextvars.ContextVar[list[tuple[str, Any, float]] | None] = contextvars.ContextVar(
    "toolbox_hook_records", default=None)


def _attribute(caller: pluggy.HookCaller) -> None:
    """Make each implementation of ``caller`` note which plugin returned which result.

    pluggy returns results without their plugin; the kernel needs it (to name a plugin in an
    error, to index providers). Done lazily, so implementations registered straight on
    ``pm`` (as tests do) are covered too. Wrappers are left alone: they wrap the whole call.
    """
    for impl in caller.get_hookimpls():
        if impl.hookwrapper or impl.wrapper or getattr(impl.function, "__toolbox_plugin__", None):
            continue
        impl.function = _recording(impl.function, impl.plugin_name)


def _recording(function: Callable[..., Any], plugin_name: str) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        value = function(*args, **kwargs)
        records = _RECORDS.get()
        if records is not None:
            records.append((plugin_name, value, (time.perf_counter() - started) * 1000))
        return value

    call.__toolbox_plugin__ = plugin_name  # type: ignore[attr-defined]
    return call


def _package_version_folders(module: str) -> list[Path]:
    """``migrations/versions`` folders of ``module``'s top-level package, located without importing it."""
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return []
    folders: list[Path] = []
    for root in (spec.submodule_search_locations or []) if spec else []:
        for candidate in (Path(root) / "migrations" / "versions", *Path(root).glob("*/migrations/versions")):
            if candidate.is_dir():
                folders.append(candidate.resolve())
    return folders


def record_or_raise(error: PluginError, errors: list[PluginError] | None) -> None:
    """Append ``error`` to ``errors`` when the caller collects them; raise it otherwise."""
    if errors is None:
        raise error
    errors.append(error)


def _import(module_name: str, plugin: str) -> ModuleType:
    import importlib

    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise PluginError(plugin, f"failed to import {module_name}: {type(exc).__name__}: {exc}") from exc

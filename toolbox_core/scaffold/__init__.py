"""``toolbox plugin new NAME --kind KIND``: a new plugin distribution, ready to test.

The templates are package data (``toolbox_core/scaffold/templates``): ``common/`` for every
plugin, one folder per kind. ``$name``-style placeholders are filled with
:class:`string.Template`. What is written: ``pyproject.toml`` (entry point, kernel API range),
``src/toolbox_<name>/`` (``plugin.py`` with the hooks, ``settings.py``, the kind's module, an
Alembic branch), ``README.md`` and ``tests/`` that pass right after generation.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from toolbox_core import KERNEL_API_VERSION, __version__

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,29}$")
#: Names the kernel uses itself or that would shadow a well-known package.
RESERVED = {"core", "api", "admin", "store", "toolbox", "testing", "test", "tests", "plugin", "plugins"}


class ScaffoldError(Exception):
    """The plugin cannot be generated; the message says why and what to do."""


@dataclass(frozen=True)
class Kind:
    module: str
    what: str
    imports: str
    hooks: str
    required_field: str
    env: tuple[str, ...]
    next_steps: str


KINDS: dict[str, Kind] = {
    "payment": Kind(
        module="provider", what="the payment provider (`initiate` returns the checkout redirect)",
        imports="from pydantic import BaseModel\nfrom toolbox_core.api import Toolbox, hookimpl\n\n"
                "from $package.provider import ${Name}Provider\nfrom $package.settings import ${Name}Settings",
        hooks='@hookimpl\ndef payment_providers(toolbox: Toolbox) -> list[${Name}Provider]:\n'
              '    return [${Name}Provider(toolbox.plugin_settings("$name"))]  # type: ignore[arg-type]\n',
        required_field="MERCHANT_ID",
        env=("TOOLBOX_${NAME}__MERCHANT_ID=...", "TOOLBOX_${NAME}__SECRET_KEY=..."),
        next_steps="- Add the gateway's callback route (`register_routes`) and report its outcome with "
                   "`PaymentService` (`capture`, `cancel`), idempotent on the gateway's transaction id.\n"
                   "- Keep `PaymentProviderContract` green (`tests/test_${name}_payment.py`).",
    ),
    "shipping": Kind(
        module="provider", what="the shipping provider (`quote` prices the cart)",
        imports="from pydantic import BaseModel\nfrom toolbox_core.api import Toolbox, hookimpl\n\n"
                "from $package.provider import ${Name}Provider\nfrom $package.settings import ${Name}Settings",
        hooks='@hookimpl\ndef shipping_providers(toolbox: Toolbox) -> list[${Name}Provider]:\n'
              '    return [${Name}Provider(toolbox.plugin_settings("$name"))]  # type: ignore[arg-type]\n',
        required_field="BASE_PRICE",
        env=("TOOLBOX_${NAME}__BASE_PRICE=1500000   # tiyin",),
        next_steps="- Replace the weight formula with the carrier's tariff (or its API, with a timeout).\n"
                   "- Keep `ShippingProviderContract` green (`tests/test_${name}_shipping.py`).",
    ),
    "notification": Kind(
        module="channel", what="the notification channel (`send` posts to the service's API)",
        imports="from pydantic import BaseModel\nfrom toolbox_core.api import Toolbox, hookimpl\n\n"
                "from $package.channel import ${Name}Channel\nfrom $package.settings import ${Name}Settings",
        hooks='@hookimpl\ndef notification_channels(toolbox: Toolbox) -> list[${Name}Channel]:\n'
              '    settings = toolbox.plugin_settings("$name")\n'
              '    return [${Name}Channel(settings, toolbox.keystore)]  # type: ignore[arg-type]\n',
        required_field="API_TOKEN",
        env=("TOOLBOX_${NAME}__API_TOKEN=...", "TOOLBOX_${NAME}__BASE_URL=https://..."),
        next_steps="- Point `_post` at the real API (its path, body and message id).\n"
                   "- Keep `NotificationChannelContract` green (`tests/test_${name}_notification.py`).",
    ),
    "inventory": Kind(
        module="source", what="the inventory source (`fetch_levels` reads absolute stock)",
        imports="from pydantic import BaseModel\nfrom toolbox_core.api import Toolbox, hookimpl\n\n"
                "from $package.settings import ${Name}Settings\nfrom $package.source import ${Name}Source",
        hooks='@hookimpl\ndef inventory_sources(toolbox: Toolbox) -> list[${Name}Source]:\n'
              '    return [${Name}Source(toolbox.plugin_settings("$name"))]  # type: ignore[arg-type]\n',
        required_field="API_TOKEN",
        env=("TOOLBOX_${NAME}__API_TOKEN=...", "TOOLBOX_${NAME}__BASE_URL=https://..."),
        next_steps="- Read the real stock API (paged; stream batches with `stream_levels` for big catalogs).\n"
                   "- Keep `InventorySourceContract` green (`tests/test_${name}_inventory.py`).",
    ),
    "routes": Kind(
        module="routes", what="the HTTP routes (`/store/$name/...`)",
        imports="from fastapi import APIRouter\nfrom pydantic import BaseModel\n"
                "from toolbox_core.api import Toolbox, hookimpl\n\n"
                "from $package.routes import build_router\nfrom $package.settings import ${Name}Settings",
        hooks='@hookimpl\ndef register_routes(toolbox: Toolbox) -> list[APIRouter]:\n'
              '    return [build_router(toolbox.plugin_settings("$name"))]  # type: ignore[arg-type]\n',
        required_field="GREETING",
        env=('TOOLBOX_${NAME}__GREETING="Assalomu alaykum"',),
        next_steps="- Protect admin routes with `Depends(require_admin(\"<scope>\"))`, shopper routes with "
                   "`optional_customer` / `require_customer`; bound every input.",
    ),
}


def check_name(name: str, taken: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Raise :class:`ScaffoldError` unless ``name`` is a valid, free plugin name."""
    if not NAME.match(name) or keyword.iskeyword(name) or name.endswith("_") or "__" in name:
        raise ScaffoldError(
            f"invalid plugin name {name!r}: use 2-30 lowercase letters, digits and single underscores, "
            "starting with a letter (e.g. 'uzcard' or 'yandex_go')")
    if name in RESERVED:
        raise ScaffoldError(f"plugin name {name!r} is reserved by the kernel; choose another")
    if name in taken:
        raise ScaffoldError(f"plugin name {name!r} is taken by an installed plugin; choose another")


def render(text: str, values: dict[str, str]) -> str:
    return Template(text).substitute(values)


def create_plugin(name: str, kind: str, destination: Path, *, title: str | None = None,
                  taken: set[str] | None = None) -> Path:
    """Write plugin ``name`` of ``kind`` into ``destination/toolbox_<name>``; returns that folder.

    Raises :class:`ScaffoldError` for an unknown kind, an invalid or taken name, or an existing
    folder.
    """
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    if taken is None:
        from toolbox_core.plugins import discover

        taken = set(discover())
    check_name(name, taken)
    root = Path(destination) / f"toolbox_{name}"
    if root.exists():
        raise ScaffoldError(f"{root} already exists; remove it or choose another folder (--dest)")
    spec = KINDS[kind]
    major = int(KERNEL_API_VERSION.split(".")[0])
    values = {
        "name": name, "NAME": name.upper(), "Name": "".join(p.capitalize() for p in name.split("_")),
        "package": f"toolbox_{name}", "distribution": f"toolbox-{name.replace('_', '-')}",
        "kind": kind, "title": title or name.replace("_", " ").title(),
        "kernel_api": f">={KERNEL_API_VERSION},<{major + 1}",
        "core_version": __version__, "module": spec.module, "required_field": spec.required_field,
    }
    values["what"] = render(spec.what, values)
    values["imports"] = render(spec.imports, values)
    values["hooks"] = render(spec.hooks, values)
    values["env_lines"] = "\n".join(render(line, values) for line in spec.env)
    values["next_steps"] = render(spec.next_steps, values)

    package = root / "src" / values["package"]
    files = {
        root / "pyproject.toml": "common/pyproject.toml.tmpl",
        root / "README.md": "common/README.md.tmpl",
        package / "__init__.py": "common/__init__.py.tmpl",
        package / "plugin.py": "common/plugin.py.tmpl",
        package / "settings.py": f"{kind}/settings.py.tmpl",
        package / f"{spec.module}.py": f"{kind}/{spec.module}.py.tmpl",
        package / "migrations" / "versions" / f"{name}_0001_branch.py": "common/migration.py.tmpl",
        root / "tests" / "conftest.py": f"{kind}/conftest.py.tmpl",
        root / "tests" / f"test_{name}_plugin.py": "common/test_plugin.py.tmpl",
        root / "tests" / f"test_{name}_{kind}.py": f"{kind}/test_kind.py.tmpl",
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render((TEMPLATES / template).read_text(), values))
    return root

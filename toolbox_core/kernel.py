"""The running kernel: settings, plugins, database and providers, wired once per process.

A :class:`Toolbox` is what every hook receives as ``toolbox``; it is the runtime half of the
public plugin API (the other half is :mod:`toolbox_core.api`).
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from toolbox_core.config import Settings, load_settings
from toolbox_core.db import Database
from toolbox_core.keystore import KeyStore, build_keystore
from toolbox_core.plugins import PluginError, PluginManager
from toolbox_core.plugins.manager import record_or_raise
from toolbox_core.providers import (
    InventorySource,
    NotificationChannel,
    OtpSender,
    PaymentProvider,
    ShippingProvider,
)

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.events.bus import EventBus
    from toolbox_core.jobs.runtime import Jobs
    from toolbox_core.jobs.scheduler import Scheduler
    from toolbox_core.notifications.templates import TemplateRegistry

log = logging.getLogger("toolbox")

#: Request threads per process (sync routes run in anyio's thread pool; its default is 40).
DEFAULT_REQUEST_THREADS = 20


def request_threads(settings: Settings) -> int:
    """Threads that serve sync routes at once, and as many pooled database connections.

    Matched on purpose: with fewer connections than threads, requests past the pool size opened
    an overflow connection and closed it on return (a PostgreSQL fork and login per request,
    the list's and detail's tail latency); with as many, a request never opens a connection
    nor waits for one. ``TOOLBOX_DATABASE_POOL_SIZE`` sets both (workers × size must stay under
    PostgreSQL's ``max_connections``).
    """
    return settings.database_pool_size or DEFAULT_REQUEST_THREADS


class Toolbox:
    """One process's view of the store: build it with :meth:`Toolbox.create`."""

    def __init__(self, settings: Settings, plugins: PluginManager, db: Database) -> None:
        self.settings = settings
        self.plugins = plugins
        self.db = db

    @classmethod
    def create(cls, settings: Settings | None = None, *, wire: bool = True,
               plugin_settings: dict[str, dict[str, Any]] | None = None,
               plugin_errors: list[PluginError] | None = None) -> Toolbox:
        """Load settings (unless given), discover and check plugins, and wire providers.

        ``plugin_settings`` gives plugin sections directly (winning over environment and file),
        as tests do.

        Raises :class:`toolbox_core.config.ConfigError` or :class:`PluginError` with a message
        that says what to fix. With ``plugin_errors`` (``toolbox doctor``), a plugin that cannot
        be loaded and a provider clash are appended there instead, and the toolbox is built
        without the failed plugins.
        """
        settings = settings or load_settings()
        manager = PluginManager(trace=settings.trace_hooks)
        manager.load(settings.plugins, settings_overrides=plugin_settings, errors=plugin_errors)
        toolbox = cls(settings, manager, Database(settings.database_url, pool_size=request_threads(settings),
                                                lock_timeout_ms=settings.database_lock_timeout_ms))
        if wire:
            try:
                toolbox.wire()
            except PluginError as exc:
                record_or_raise(exc, plugin_errors)
        return toolbox

    def wire(self) -> None:
        """Collect every provider now, so id clashes fail at start-up and not on first use."""
        for name in (
            "payment_providers",
            "shipping_providers",
            "notification_channels",
            "otp_senders",
            "inventory_sources",
        ):
            getattr(self, name)

    # ------------------------------------------------------------------ plugins
    def plugin_settings(self, name: str) -> BaseModel:
        """The validated settings of plugin ``name`` (its ``settings_model``)."""
        try:
            return self.plugins.settings[name]
        except KeyError:
            raise PluginError(name, "has no settings (not enabled, or no settings_model hook)") from None

    @cached_property
    def payment_providers(self) -> dict[str, PaymentProvider]:
        return self.plugins.collect("payment_providers", toolbox=self)

    @cached_property
    def shipping_providers(self) -> dict[str, ShippingProvider]:
        return self.plugins.collect("shipping_providers", toolbox=self)

    @cached_property
    def notification_channels(self) -> dict[str, NotificationChannel]:
        return self.plugins.collect("notification_channels", toolbox=self)

    @cached_property
    def otp_senders(self) -> dict[str, OtpSender]:
        return self.plugins.collect("otp_senders", toolbox=self)

    @cached_property
    def inventory_sources(self) -> dict[str, InventorySource]:
        return self.plugins.collect("inventory_sources", toolbox=self)

    # ------------------------------------------------------------------ events and jobs
    @cached_property
    def events(self) -> EventBus:
        """Event registry, subscribers, relay and delivery (``drain()`` for tests)."""
        from toolbox_core.events.bus import EventBus

        return EventBus(self)

    @cached_property
    def jobs(self) -> Jobs:
        """The Dramatiq broker and actors: ``toolbox.jobs.enqueue(name, **kwargs)``."""
        from toolbox_core.jobs.runtime import Jobs

        return Jobs(self)

    @cached_property
    def scheduler(self) -> Scheduler:
        """Scheduled jobs, run once per tick across processes (``toolbox jobs``)."""
        from toolbox_core.jobs.scheduler import Scheduler

        return Scheduler(self)

    # ------------------------------------------------------------------ notifications
    @cached_property
    def templates(self) -> TemplateRegistry:
        """Message texts per template and locale: kernel, ``notification_templates`` hook, settings."""
        from toolbox_core.notifications.templates import build_registry

        plugin_templates = [t for _, items in self.plugins.call_each("notification_templates", toolbox=self)
                            for t in items]
        return build_registry(self.settings.default_locale, plugin_templates,
                              self.settings.notifications.templates)

    def notify(self, template: str, to: str | None = None, locale: str | None = None,
               data: dict[str, Any] | None = None, idempotency_key: str | None = None, *,
               kind: str | None = None) -> str:
        """Send ``template`` to ``to`` through the channel of its kind, from a job; returns the job id.

        See :func:`toolbox_core.notifications.service.notify`. Call it outside any transaction.
        """
        from toolbox_core.notifications.service import notify

        return notify(self, template, to, locale, data, idempotency_key, kind=kind)

    # ------------------------------------------------------------------ key store
    @cached_property
    def keystore(self) -> KeyStore:
        """Short-lived sensitive state: Redis when ``redis_url`` is set, the database otherwise."""
        return build_keystore(self.settings, self.db)

    # ------------------------------------------------------------------ database
    def migration_locations(self) -> list[Path]:
        """Alembic version folders of every enabled plugin (the kernel's is implicit)."""
        return [Path(path) for _, path in self.plugins.call_each("migrations")]

    def disabled_migration_locations(self) -> list[Path]:
        """Alembic version folders of installed plugins that are not enabled (not imported)."""
        return self.plugins.disabled_version_locations()

    def migrate(self) -> None:
        """Upgrade the kernel's and every enabled plugin's schema to head (idempotent).

        Installed but disabled plugins are not upgraded, but their revisions stay known, so a
        database they once migrated still migrates after they are disabled.
        """
        from toolbox_core.db.migrate import upgrade

        if self.db.is_sqlite:
            _ensure_sqlite_folder(self.settings.database_url)
        upgrade(self.db.engine, self.migration_locations(), self.disabled_migration_locations())
        self.plugins.call_each("after_migrate", engine=self.db.engine)

    def close(self) -> None:
        for name in ("scheduler", "jobs", "events", "keystore"):  # only those this process used
            if name in self.__dict__:
                self.__dict__[name].close()
        self.db.dispose()

    def describe(self) -> dict[str, Any]:
        return {"plugins": [p.as_dict() for p in self.plugins.plugins.values()]}


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)

"""Every extension point of Toolbox Commerce, in one place.

A plugin is a module (named by an entry point in the ``toolbox.plugins`` group) that implements
some of these hooks with ``@hookimpl``::

    from toolbox_core.api import hookimpl

    KERNEL_API = ">=1.0,<2"          # the kernel API versions this plugin supports

    @hookimpl
    def payment_providers(toolbox):
        return [PaymeProvider(toolbox.plugin_settings("payme"))]

Rules that hold for every hook:

* Arguments are passed by name; implement only the ones you need (pluggy allows a subset).
* Hooks may be ``def`` or ``async def``; the kernel awaits coroutines where the caller is async
  and runs them to completion where it is not.
* The kernel never calls a hook that may talk to the outside world inside an open database
  transaction.
* ``toolbox`` is the running :class:`toolbox_core.kernel.Toolbox`: settings, database, key store,
  jobs. It is the whole public runtime API a plugin gets.

The kernel's own features register through these same hooks (``toolbox_core/*/plugin.py``), so
every hook has a reference implementation in the kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import typer
    from fastapi import APIRouter
    from pydantic import BaseModel
    from sqlalchemy import Engine

    from toolbox_core.doctor import Check as DoctorCheck
    from toolbox_core.events.types import EventType, JobSpec, ScheduledJob, Subscriber
    from toolbox_core.kernel import Toolbox
    from toolbox_core.notifications.templates import NotificationTemplate
    from toolbox_core.providers import (
        InventorySource,
        NotificationChannel,
        OtpSender,
        PaymentProvider,
        ShippingProvider,
    )

PROJECT = "toolbox"

hookspec = pluggy.HookspecMarker(PROJECT)


# ------------------------------------------------------------------------------ configuration


@hookspec
def settings_model() -> type[BaseModel] | None:
    """The pydantic model of this plugin's settings section.

    Called once per plugin at start-up, before any other hook. The kernel validates the
    plugin's section (``[payme]`` in ``toolbox.toml``, ``TOOLBOX_PAYME__*`` in the environment)
    with it and refuses to start, naming each environment variable, when values are missing or
    invalid. The validated object is then available as ``toolbox.plugin_settings(name)``.

    Returns: a ``BaseModel`` subclass, or ``None`` for a plugin without settings.
    """


# ------------------------------------------------------------------------------ HTTP


@hookspec
def register_routes(toolbox: Toolbox) -> list[APIRouter] | None:
    """FastAPI routers to mount on the app, e.g. ``/payme/callback`` or ``/store/bts/regions``.

    Called once while the app is built. Each router carries its own full path prefix. Two
    enabled plugins declaring the same method and path is a start-up error.

    Returns: a list of ``APIRouter`` (or ``None``).
    """


# ------------------------------------------------------------------------------ providers


@hookspec
def payment_providers(toolbox: Toolbox) -> list[PaymentProvider] | None:
    """Payment providers this plugin offers (see :class:`toolbox_core.providers.PaymentProvider`).

    Called once at start-up; the kernel indexes them by ``id`` (unique across plugins, a
    duplicate is a start-up error). Returns: a list of providers.
    """


@hookspec
def shipping_providers(toolbox: Toolbox) -> list[ShippingProvider] | None:
    """Shipping providers (see :class:`toolbox_core.providers.ShippingProvider`).

    Called once at start-up; indexed by ``id``. At checkout the kernel asks every provider to
    ``quote`` the cart, concurrently and outside any transaction (each within
    ``checkout.shipping_quote_timeout_seconds``; a slow or failing one is logged and left out).
    A carrier may also implement the optional :class:`toolbox_core.providers.FulfillmentProvider`
    methods (``validate_option``, ``create_shipment``, ``cancel_shipment``, ``label``, ``track``),
    which :class:`toolbox_core.api.ShipmentService` and the ``/admin/shipments`` routes call when
    present. Returns: a list of providers.
    """


@hookspec
def notification_channels(toolbox: Toolbox) -> list[NotificationChannel] | None:
    """Notification channels, e.g. an SMS gateway or e-mail (see ``NotificationChannel``).

    Called once at start-up; indexed by ``id``. Notifications are sent from jobs, never from a
    request's transaction. Returns: a list of channels.
    """


@hookspec
def notification_templates(toolbox: Toolbox) -> list[NotificationTemplate] | None:
    """Default message texts per template name and locale (``order.placed`` in ru and uz).

    Called once, when ``toolbox.templates`` is first used. Settings
    (``notifications.templates``) win over these, so a store can use its approved texts.
    ``toolbox.notify(template, ...)`` renders them. Returns: a list of ``NotificationTemplate``.
    """


@hookspec
def otp_senders(toolbox: Toolbox) -> list[OtpSender] | None:
    """Senders of one-time sign-in codes (see :class:`toolbox_core.providers.OtpSender`).

    Called once at start-up; the one whose ``id`` equals ``TOOLBOX_AUTH__OTP_SENDER`` delivers
    codes. Returns: a list of senders.
    """


@hookspec
def inventory_sources(toolbox: Toolbox) -> list[InventorySource] | None:
    """External sources of truth for stock counts (see ``InventorySource``).

    Called once at start-up; indexed by ``id``. The job ``inventory.sync_sources`` applies what
    ``stream_levels`` (batches, preferred) or ``fetch_levels`` report, batch by batch, to
    catalog SKUs only and only where the figure changed, without losing concurrent
    reservations; the rules (including recent sales the source does not know yet) are on
    :class:`toolbox_core.providers.InventorySource`. Returns: a list of sources.
    """


# ------------------------------------------------------------------------------ events and jobs


@hookspec
def event_types() -> list[EventType] | None:
    """Events this plugin emits, with their documented payloads.

    Called once at start-up to build the event registry (``toolbox events types``). Emitting an
    undeclared event is an error. Returns: a list of :class:`EventType`.
    """


@hookspec
def event_subscribers(toolbox: Toolbox) -> list[Subscriber] | None:
    """Subscribers to domain events (see :class:`toolbox_core.events.types.Subscriber`).

    Called once at start-up, in API and worker processes alike. Each subscriber runs as its
    own job for each matching event, so one failing subscriber never blocks another.
    Returns: a list of subscribers.
    """


@hookspec
def register_jobs(toolbox: Toolbox) -> list[JobSpec] | None:
    """Background jobs (Dramatiq actors) this plugin defines.

    Called once at start-up; the kernel turns each :class:`JobSpec` into an actor named
    ``JobSpec.name`` on its broker, so ``toolbox.jobs.enqueue(name, **kwargs)`` runs it in a
    worker. Returns: a list of job specs.
    """


@hookspec
def scheduled_jobs(toolbox: Toolbox) -> list[ScheduledJob] | None:
    """Jobs to run on a schedule, by interval or cron (MoySklad: every 15 minutes).

    Called once at start-up by the scheduler; exactly one run happens per tick across all
    scheduler processes, and a job never overlaps with itself: every run holds the job's lease
    (one per job name, in the key store, renewed while it runs), so a tick arriving while the
    previous run goes on is skipped and ``run_now`` / ``toolbox jobs run NAME`` refuse
    (``LeaseHeld``). Runs a plugin starts itself (a CLI command, a webhook job) take the same
    lease with ``toolbox.scheduler.lease(name)``. ``settings.jobs.intervals`` overrides an
    interval by job name. ``toolbox jobs`` lists them. Returns: a list of :class:`ScheduledJob`.
    """


# ------------------------------------------------------------------------------ database


@hookspec
def migrations() -> str | None:
    """The folder holding this plugin's Alembic versions (its own branch).

    Called by ``toolbox migrate`` (and ``toolbox serve`` on start) for every enabled plugin; the
    plugin's first revision has ``down_revision = None`` and ``branch_labels = ("<plugin>",)``.
    Returns: an absolute path, or ``None`` for a plugin without tables.
    """


@hookspec
def after_migrate(engine: Engine) -> None:
    """Create database objects the models do not describe: extensions, full-text tables, triggers.

    Called by ``toolbox migrate`` (and ``toolbox serve`` on start) after Alembic upgraded the
    kernel and every enabled plugin, with the SQLAlchemy ``engine``. Must be idempotent
    (``CREATE ... IF NOT EXISTS``): it runs on every migrate. Returns nothing.
    """


# ------------------------------------------------------------------------------ command line


@hookspec
def register_commands(cli: typer.Typer, toolbox: Toolbox) -> None:
    """Add sub-commands to the ``toolbox`` command line.

    Called once when the CLI starts, for enabled plugins. Add commands or sub-apps to ``cli``
    (``cli.add_typer(my_app, name="payme")``). ``toolbox`` is built lazily, on the first
    attribute a command reads, so use it inside your command functions only: registering must
    work without a database (``toolbox --help``). Implementations taking only ``cli`` keep
    working. Returns nothing.
    """


# ------------------------------------------------------------------------------ operations


@hookspec
def doctor_checks(toolbox: Toolbox) -> list[DoctorCheck] | None:
    """Configuration and connectivity checks for ``toolbox doctor`` (a token check, a balance).

    Called by ``toolbox doctor`` after the kernel's own checks, once per enabled plugin, outside
    any transaction; may be async and may call the outside service (keep each call short, with a
    timeout). A hook that raises is shown as one failed check. Messages never contain secrets.
    A plugin whose settings are missing or invalid is reported by the kernel and not called, so
    the hook may rely on its settings. It may also run before ``toolbox migrate``: check the
    plugin's tables with ``toolbox_core.api.tables_check`` and still run the checks that do not
    read them.
    Returns: a list of :class:`toolbox_core.api.DoctorCheck` (``name``, ``ok``, ``message``,
    ``warning``: fine but worth a look, printed as ``warn``, does not fail doctor).
    """


# ------------------------------------------------------------------------------ lifecycle


@hookspec
def startup(toolbox: Toolbox) -> Any:
    """Called once when an API or worker process starts, after settings and providers are wired.

    May be async. Open clients or warm caches here. Returns nothing.
    """


@hookspec
def shutdown(toolbox: Toolbox) -> Any:
    """Called once when an API or worker process stops. May be async. Close clients here.

    Returns nothing.
    """

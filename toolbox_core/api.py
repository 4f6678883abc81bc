"""The public kernel API for plugins. Import from here only; the rest may change.

Everything a plugin needs:

* ``hookimpl`` to mark hook implementations (the hooks are in :mod:`toolbox_core.hookspecs`);
* ``Toolbox``, the runtime every hook receives;
* the provider Protocols and the data types they exchange;
* ``Event``, ``EventType``, ``Subscriber``, ``JobSpec``, ``ScheduledJob`` for events and jobs;
* ``emit`` to write an event in the caller's transaction;
* ``Base`` and ``TimestampMixin`` for plugin models; ``new_id`` for ids;
* ``upsert`` / ``insert_ignoring``: ``INSERT ... ON CONFLICT DO UPDATE / DO NOTHING`` built for
  the session's dialect (SQLite or PostgreSQL) from one call;
* the error classes, which the API turns into the one JSON error shape;
* ``normalize_phone`` (``+998XXXXXXXXX``), money helpers;
* ``CartService`` (a plugin's own checkout step, e.g. choosing a carrier's pickup branch);
* ``ShipmentService`` / ``ShipmentView`` to record carrier shipments and move their status,
  ``supports`` to check a provider's optional ``FulfillmentProvider`` methods;
* ``RetryLater`` / ``PermanentFailure`` for jobs and subscribers that fail;
* ``NotificationTemplate`` for the ``notification_templates`` hook (``toolbox.notify`` and
  ``toolbox.templates`` render them), ``otp_text`` for senders writing the sign-in SMS;
* ``DoctorCheck`` for the ``doctor_checks`` hook (``warning=True``: printed as ``warn``, does not
  fail ``toolbox doctor``), and ``tables_check(toolbox, plugin, *models_or_tables)``: one check
  that reads each of the plugin's tables once and answers "... migrated" or "<table> is
  missing: run toolbox migrate" (no traceback), so the rest of the plugin's checks can run;
* ``TableColumn`` / ``print_rows`` for a ``register_commands`` list command: a table that fits
  the terminal with whole ids, or every field as JSON with ``--json``;
* FastAPI dependencies for plugin routes: ``require_admin(scope)`` (admin API keys, 401/403),
  ``optional_customer`` and ``require_customer`` (the signed-in customer's id);
* services: ``CartService(toolbox)`` (read a cart as a ``CartView``, change it as the store API
  does) and ``InventoryService(toolbox)`` (available stock, levels, set stocked quantities).
* stock sync from a source: ``StockBatch``, ``apply_stock_batch`` (one batch, changed-only,
  catalog SKUs only), ``sync_source`` (a whole stream, batch by batch) and its ``SyncReport``
  / ``BatchResult``, ``catalog_skus`` (keyset paging over the catalog's SKUs), ``catalog_size``;
* ``Progress`` (what a job reports) and ``RichProgress`` (a terminal bar for a plugin's CLI
  command: ``RichProgress(bar, bar.add_task(name, total=None))`` with a ``rich`` Progress);
* ``JobLease`` / ``LeaseHeld``: a job's cross-process lease (``toolbox.scheduler.lease(name)``);
  ``ensure_lease_held()`` raises ``LeaseLost`` in a job whose lease was lost (call it between steps).
* bounded query parameters ``Limit``, ``Offset`` (the one pagination cap) and ``QueryInt`` (fits
  64 bits): an integer query parameter without an upper bound reaches SQL and fails there.
* a created-at range for a list route: ``created: CreatedAt`` takes ``?from=`` / ``?to=`` (an ISO
  date or date-time; days are UTC days, a date-only ``to`` includes that whole day, no offset
  means UTC; garbage, ``from`` after ``to`` or a repeated ``from`` / ``to`` is a 422) as a
  ``CreatedRange``, applied with ``created.apply(select(Model), Model.created_at)`` (or
  ``created.clauses(column)``).
* locales: ``request_locale``, the FastAPI dependency every localized route uses (the one rule:
  ``?locale=``, ``Accept-Language``, the default; answers get ``Content-Language``), and
  ``localized_text`` / ``LocalizedText`` for a setting that is one string or ``{"ru": ..., "uz": ...}``;
* for payment gateways: ``PaymentService`` (reports, also ``*_in_session`` inside the plugin's
  own transaction), ``get_order_view`` / ``order_view_in_session`` (``OrderView`` with its
  ``LineView`` lines and ``ShippingLine``, as at purchase), and ``own_error_route`` for a router
  that answers errors in its protocol's shape.
* a gateway callback's short path, where round trips are the cost: ``GatewayQuery`` (built once:
  the plugin's own row and values to read with the order) and
  ``PaymentService.read_for_report(session, query, ...)`` → ``GatewayState``: order, payment,
  lines, the plugin's row and values and the kernel's idempotency row in ONE statement, locked
  ``FOR UPDATE`` in the kernel's lock order (or unlocked on ``PaymentService.reader()``, an
  autocommit connection, for a pre-check). ``authorize_in_session`` / ``capture_in_session``
  take it as ``state=`` (nothing read or locked again) and the plugin's own Core DML as
  ``also=[(statement, params)]``: on PostgreSQL the report, the plugin's row, the history
  entry, the outbox event and the stock conversion are then ONE statement. See
  ``toolbox_payme.merchant`` for a whole callback in BEGIN + 2 statements + COMMIT.
* where a route's blocking work runs (``toolbox_core/threads.py``): ``run_db_work(toolbox, func, ...)``
  from an ``async`` route, or ``@db_work(toolbox)`` under the route decorator of a plain ``def`` one,
  for work that blocks only on a few short database statements (a callback): on the event loop
  with ``http.inline_db_work`` (the default), no thread trip; ``@in_thread`` for a plain route
  that may wait on an outside service: one thread trip instead of FastAPI's two;
  ``@db_work_when(toolbox, inline)`` for one that waits on an outside service only in some
  requests (``inline(values)`` says which stay on the loop). A provider whose calls never wait on
  anything outside the process says ``local = True`` (``is_local``): the kernel then calls it
  on the event loop.
* ``read_body(request, limit)`` for webhook routes: the body read up to the route's own limit,
  413 ``payload_too_large`` past it, never buffered whole.
* ``iso_utc`` / ``UtcDateTime``: the APIs' one timestamp form (ISO-8601 UTC with ``Z``) for a
  plugin route's dict or pydantic response.

Only what every plugin module needs at import (``hookimpl``, ``Toolbox``, the provider types, the
errors, ``Base``) is loaded with this module; every other name is imported on its first use
(PEP 562 ``__getattr__``), so loading a plugin at start-up does not import every kernel domain.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from toolbox_core import KERNEL_API_VERSION
from toolbox_core.db.base import Base, TimestampMixin, utcnow
from toolbox_core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    ToolboxError,
    Unauthorized,
)
from toolbox_core.kernel import Toolbox
from toolbox_core.keystore.base import KeyStore, KeyStoreUnavailable, VerifyOutcome, WindowHit
from toolbox_core.plugins import hookimpl
from toolbox_core.providers import (
    Address,
    CartView,
    FulfillmentProvider,
    InventorySource,
    LineView,
    Notification,
    NotificationChannel,
    OrderView,
    OtpSender,
    PaymentAction,
    PaymentProvider,
    PaymentRequest,
    RefundResult,
    ShipmentDraft,
    ShipmentLabel,
    ShipmentRequest,
    ShippingLine,
    ShippingProvider,
    ShippingQuote,
    StockBatch,
    StockLevel,
    TrackingUpdate,
    is_local,
    supports,
)
from toolbox_core.texts import LocalizedText

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors (kept in step by a test)
    from toolbox_core.admin.auth import AdminPrincipal, require_admin
    from toolbox_core.cart.service import CartService
    from toolbox_core.cli.tables import Col as TableColumn
    from toolbox_core.cli.tables import print_rows
    from toolbox_core.customers.otp import otp_text
    from toolbox_core.customers.phone import normalize_phone
    from toolbox_core.customers.sessions import optional_customer, require_customer
    from toolbox_core.db.upsert import insert_ignoring, upsert
    from toolbox_core.doctor import Check as DoctorCheck
    from toolbox_core.doctor import tables_check
    from toolbox_core.events import emit
    from toolbox_core.events.types import Event, EventType, JobSpec, ScheduledJob, Subscriber
    from toolbox_core.fulfillment.service import (
        FINAL_SHIPMENT_STATUSES,
        SHIPMENT_STATUSES,
        ShipmentService,
        ShipmentView,
    )
    from toolbox_core.i18n import localized_text, request_locale
    from toolbox_core.ids import new_id
    from toolbox_core.inventory.public import InventoryService
    from toolbox_core.inventory.service import LevelView
    from toolbox_core.inventory.sync import (
        BatchResult,
        SyncReport,
        apply_missing,
        apply_stock_batch,
        catalog_size,
        catalog_skus,
        sync_source,
    )
    from toolbox_core.jobs.failures import PermanentFailure, RetryLater
    from toolbox_core.jobs.lease import JobLease, LeaseHeld, LeaseLost, ensure_lease_held
    from toolbox_core.jobs.progress import Progress, RichProgress
    from toolbox_core.limits import read_body
    from toolbox_core.money import Tiyin, format_som, som
    from toolbox_core.notifications.templates import NotificationTemplate
    from toolbox_core.orders.views import get_order_view, order_view_in_session
    from toolbox_core.params import CreatedAt, CreatedRange, Limit, Offset, QueryInt
    from toolbox_core.routing import own_error_route
    from toolbox_core.schemas import UtcDateTime, iso_utc
    from toolbox_core.threads import db_work, db_work_when, in_thread, run_db_work
    from toolbox_core.workflows.payments import (
        GatewayQuery,
        GatewayState,
        PaymentInfo,
        PaymentService,
        TransactionResult,
    )

#: Public names imported on first use: name -> "module" (or "module:attribute" when renamed).
_LAZY: dict[str, str] = {
    "AdminPrincipal": "toolbox_core.admin.auth",
    "require_admin": "toolbox_core.admin.auth",
    "CartService": "toolbox_core.cart.service",
    "TableColumn": "toolbox_core.cli.tables:Col",
    "print_rows": "toolbox_core.cli.tables",
    "otp_text": "toolbox_core.customers.otp",
    "normalize_phone": "toolbox_core.customers.phone",
    "optional_customer": "toolbox_core.customers.sessions",
    "require_customer": "toolbox_core.customers.sessions",
    "insert_ignoring": "toolbox_core.db.upsert",
    "upsert": "toolbox_core.db.upsert",
    "DoctorCheck": "toolbox_core.doctor:Check",
    "tables_check": "toolbox_core.doctor",
    "emit": "toolbox_core.events",
    "Event": "toolbox_core.events.types",
    "EventType": "toolbox_core.events.types",
    "JobSpec": "toolbox_core.events.types",
    "ScheduledJob": "toolbox_core.events.types",
    "Subscriber": "toolbox_core.events.types",
    "FINAL_SHIPMENT_STATUSES": "toolbox_core.fulfillment.service",
    "SHIPMENT_STATUSES": "toolbox_core.fulfillment.service",
    "ShipmentService": "toolbox_core.fulfillment.service",
    "ShipmentView": "toolbox_core.fulfillment.service",
    "localized_text": "toolbox_core.i18n",
    "request_locale": "toolbox_core.i18n",
    "new_id": "toolbox_core.ids",
    "InventoryService": "toolbox_core.inventory.public",
    "LevelView": "toolbox_core.inventory.service",
    "BatchResult": "toolbox_core.inventory.sync",
    "SyncReport": "toolbox_core.inventory.sync",
    "apply_missing": "toolbox_core.inventory.sync",
    "apply_stock_batch": "toolbox_core.inventory.sync",
    "catalog_size": "toolbox_core.inventory.sync",
    "catalog_skus": "toolbox_core.inventory.sync",
    "sync_source": "toolbox_core.inventory.sync",
    "PermanentFailure": "toolbox_core.jobs.failures",
    "RetryLater": "toolbox_core.jobs.failures",
    "JobLease": "toolbox_core.jobs.lease",
    "LeaseHeld": "toolbox_core.jobs.lease",
    "LeaseLost": "toolbox_core.jobs.lease",
    "ensure_lease_held": "toolbox_core.jobs.lease",
    "Progress": "toolbox_core.jobs.progress",
    "RichProgress": "toolbox_core.jobs.progress",
    "read_body": "toolbox_core.limits",
    "Tiyin": "toolbox_core.money",
    "format_som": "toolbox_core.money",
    "som": "toolbox_core.money",
    "NotificationTemplate": "toolbox_core.notifications.templates",
    "get_order_view": "toolbox_core.orders.views",
    "order_view_in_session": "toolbox_core.orders.views",
    "CreatedAt": "toolbox_core.params",
    "CreatedRange": "toolbox_core.params",
    "Limit": "toolbox_core.params",
    "Offset": "toolbox_core.params",
    "QueryInt": "toolbox_core.params",
    "own_error_route": "toolbox_core.routing",
    "UtcDateTime": "toolbox_core.schemas",
    "iso_utc": "toolbox_core.schemas",
    "db_work": "toolbox_core.threads",
    "db_work_when": "toolbox_core.threads",
    "in_thread": "toolbox_core.threads",
    "run_db_work": "toolbox_core.threads",
    "GatewayQuery": "toolbox_core.workflows.payments",
    "GatewayState": "toolbox_core.workflows.payments",
    "PaymentInfo": "toolbox_core.workflows.payments",
    "PaymentService": "toolbox_core.workflows.payments",
    "TransactionResult": "toolbox_core.workflows.payments",
}


def __getattr__(name: str) -> Any:
    """Import lazy public name ``name`` on first use and keep it as a module attribute."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "FINAL_SHIPMENT_STATUSES",
    "KERNEL_API_VERSION",
    "SHIPMENT_STATUSES",
    "Address",
    "AdminPrincipal",
    "BadRequest",
    "Base",
    "BatchResult",
    "CartService",
    "CartView",
    "Conflict",
    "CreatedAt",
    "CreatedRange",
    "DoctorCheck",
    "Event",
    "EventType",
    "Forbidden",
    "FulfillmentProvider",
    "GatewayQuery",
    "GatewayState",
    "InvalidInput",
    "InventoryService",
    "InventorySource",
    "JobLease",
    "JobSpec",
    "KeyStore",
    "KeyStoreUnavailable",
    "LeaseHeld",
    "LeaseLost",
    "LevelView",
    "Limit",
    "LineView",
    "LocalizedText",
    "NotFound",
    "Notification",
    "NotificationChannel",
    "NotificationTemplate",
    "Offset",
    "OrderView",
    "OtpSender",
    "PaymentAction",
    "PaymentInfo",
    "PaymentProvider",
    "PaymentRequest",
    "PaymentService",
    "PermanentFailure",
    "Progress",
    "QueryInt",
    "RateLimited",
    "RefundResult",
    "RetryLater",
    "RichProgress",
    "ScheduledJob",
    "ServiceUnavailable",
    "ShipmentDraft",
    "ShipmentLabel",
    "ShipmentRequest",
    "ShipmentService",
    "ShipmentView",
    "ShippingLine",
    "ShippingProvider",
    "ShippingQuote",
    "StockBatch",
    "StockLevel",
    "Subscriber",
    "SyncReport",
    "TableColumn",
    "TimestampMixin",
    "Tiyin",
    "Toolbox",
    "ToolboxError",
    "TrackingUpdate",
    "TransactionResult",
    "Unauthorized",
    "UtcDateTime",
    "VerifyOutcome",
    "WindowHit",
    "apply_missing",
    "apply_stock_batch",
    "catalog_size",
    "catalog_skus",
    "db_work",
    "db_work_when",
    "emit",
    "ensure_lease_held",
    "format_som",
    "get_order_view",
    "hookimpl",
    "in_thread",
    "insert_ignoring",
    "is_local",
    "iso_utc",
    "localized_text",
    "new_id",
    "normalize_phone",
    "optional_customer",
    "order_view_in_session",
    "otp_text",
    "own_error_route",
    "print_rows",
    "read_body",
    "request_locale",
    "require_admin",
    "require_customer",
    "run_db_work",
    "som",
    "supports",
    "sync_source",
    "tables_check",
    "upsert",
    "utcnow",
]

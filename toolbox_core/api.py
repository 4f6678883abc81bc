"""The public kernel API for plugins. Import from here only; the rest may change.

Everything a plugin needs:

* ``hookimpl`` to mark hook implementations (the hooks are in :mod:`toolbox_core.hookspecs`);
* ``Toolbox``, the runtime every hook receives;
* the provider Protocols and the data types they exchange;
* ``Event``, ``EventType``, ``Subscriber``, ``JobSpec``, ``ScheduledJob`` for events and jobs;
* ``emit`` to write an event in the caller's transaction;
* ``Base`` and ``TimestampMixin`` for plugin models; ``new_id`` for ids;
* the error classes, which the API turns into the one JSON error shape;
* ``normalize_phone`` (``+998XXXXXXXXX``), money helpers;
* ``ShipmentService`` / ``ShipmentView`` to record carrier shipments and move their status,
  ``supports`` to check a provider's optional ``FulfillmentProvider`` methods.
"""

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
from toolbox_core.events import emit
from toolbox_core.events.types import Event, EventType, JobSpec, ScheduledJob, Subscriber
from toolbox_core.fulfillment import (
    FINAL_SHIPMENT_STATUSES,
    SHIPMENT_STATUSES,
    ShipmentService,
    ShipmentView,
)
from toolbox_core.ids import new_id
from toolbox_core.jobs.progress import Progress
from toolbox_core.kernel import Toolbox
from toolbox_core.keystore.base import KeyStore, KeyStoreUnavailable, VerifyOutcome, WindowHit
from toolbox_core.money import Tiyin, format_som, som
from toolbox_core.payments.service import PaymentInfo, PaymentService, TransactionResult
from toolbox_core.plugins import hookimpl
from toolbox_core.providers import (
    Address,
    CartView,
    FulfillmentProvider,
    InventorySource,
    LineView,
    Notification,
    NotificationChannel,
    OtpSender,
    PaymentAction,
    PaymentProvider,
    PaymentRequest,
    RefundResult,
    ShipmentDraft,
    ShipmentLabel,
    ShipmentRequest,
    ShippingProvider,
    ShippingQuote,
    StockLevel,
    TrackingUpdate,
    supports,
)

__all__ = [
    "FINAL_SHIPMENT_STATUSES",
    "KERNEL_API_VERSION",
    "SHIPMENT_STATUSES",
    "Address",
    "BadRequest",
    "Base",
    "CartView",
    "Conflict",
    "Event",
    "EventType",
    "Forbidden",
    "FulfillmentProvider",
    "InvalidInput",
    "InventorySource",
    "JobSpec",
    "KeyStore",
    "KeyStoreUnavailable",
    "LineView",
    "NotFound",
    "Notification",
    "NotificationChannel",
    "OtpSender",
    "PaymentAction",
    "PaymentInfo",
    "PaymentProvider",
    "PaymentRequest",
    "PaymentService",
    "Progress",
    "RateLimited",
    "RefundResult",
    "ScheduledJob",
    "ServiceUnavailable",
    "ShipmentDraft",
    "ShipmentLabel",
    "ShipmentRequest",
    "ShipmentService",
    "ShipmentView",
    "ShippingProvider",
    "ShippingQuote",
    "StockLevel",
    "Subscriber",
    "TimestampMixin",
    "Tiyin",
    "Toolbox",
    "ToolboxError",
    "TrackingUpdate",
    "TransactionResult",
    "Unauthorized",
    "VerifyOutcome",
    "WindowHit",
    "emit",
    "format_som",
    "hookimpl",
    "new_id",
    "som",
    "supports",
    "utcnow",
]

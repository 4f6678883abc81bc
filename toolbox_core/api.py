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
* ``CartService`` (a plugin's own checkout step, e.g. choosing a carrier's pickup branch);
* ``ShipmentService`` / ``ShipmentView`` to record carrier shipments and move their status,
  ``supports`` to check a provider's optional ``FulfillmentProvider`` methods;
* ``RetryLater`` / ``PermanentFailure`` for jobs and subscribers that fail;
* ``DoctorCheck`` for the ``doctor_checks`` hook;
* FastAPI dependencies for plugin routes: ``require_admin(scope)`` (admin API keys, 401/403),
  ``optional_customer`` and ``require_customer`` (the signed-in customer's id);
* services: ``CartService(toolbox)`` (read a cart as a ``CartView``, change it as the store API
  does) and ``InventoryService(toolbox)`` (available stock, levels, set stocked quantities).
"""

from toolbox_core import KERNEL_API_VERSION
from toolbox_core.admin.auth import AdminPrincipal, require_admin
from toolbox_core.cart.service import CartService
from toolbox_core.customers.phone import normalize_phone
from toolbox_core.customers.sessions import optional_customer, require_customer
from toolbox_core.db.base import Base, TimestampMixin, utcnow
from toolbox_core.doctor import Check as DoctorCheck
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
from toolbox_core.inventory.public import InventoryService
from toolbox_core.inventory.service import LevelView
from toolbox_core.jobs.failures import PermanentFailure, RetryLater
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
    "AdminPrincipal",
    "BadRequest",
    "Base",
    "CartService",
    "CartView",
    "Conflict",
    "DoctorCheck",
    "Event",
    "EventType",
    "Forbidden",
    "FulfillmentProvider",
    "InvalidInput",
    "InventoryService",
    "InventorySource",
    "JobSpec",
    "KeyStore",
    "KeyStoreUnavailable",
    "LevelView",
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
    "PermanentFailure",
    "Progress",
    "RateLimited",
    "RefundResult",
    "RetryLater",
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
    "normalize_phone",
    "optional_customer",
    "require_admin",
    "require_customer",
    "som",
    "supports",
    "utcnow",
]

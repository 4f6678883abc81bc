"""What a provider plugged in through a hook must implement.

Each provider is an object with a stable ``id`` (unique across all enabled plugins) and the
methods of its Protocol below. Methods may be plain functions or coroutines; the kernel calls
both correctly (see :func:`toolbox_core.asyncutil.resolve`).

The kernel never calls a provider inside an open database transaction: it loads what the
provider needs into the plain dataclasses below, commits, then calls out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from toolbox_core.payments.views import PaymentInfo

# ---------------------------------------------------------------------------- shared views


@dataclass(frozen=True)
class Address:
    """A delivery address in Uzbekistan."""

    region: str
    city: str
    district: str | None = None
    street: str | None = None
    landmark: str | None = None
    postal_code: str | None = None
    name: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class LineView:
    """One cart or order line as providers see it. Amounts are integers in tiyin."""

    variant_id: str
    sku: str
    title: str
    quantity: int
    unit_price: int
    weight_grams: int = 0
    mxik_code: str | None = None
    package_code: str | None = None
    vat_percent: int | None = None
    #: Discount on the whole line (already multiplied by the quantity), tiyin.
    discount: int = 0
    #: Unit-of-measure code for fiscal receipts (e.g. ``"241092"``), when known.
    unit_code: str | None = None

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class CartView:
    """A read-only snapshot of a cart, given to shipping providers to quote options."""

    id: str
    locale: str
    lines: tuple[LineView, ...]
    subtotal: int
    phone: str | None = None
    address: Address | None = None
    customer_id: str | None = None

    @property
    def weight_grams(self) -> int:
        return sum(line.weight_grams * line.quantity for line in self.lines)


@dataclass(frozen=True)
class ShippingLine:
    """The delivery line of an order, with the fiscal codes of the delivery service (settings)."""

    title: str
    amount: int
    mxik_code: str | None = None
    package_code: str | None = None
    vat_percent: int | None = None


@dataclass(frozen=True)
class OrderView:
    """An order as it was at purchase, for gateways (receipts, pre-checks). Amounts in tiyin.

    ``payment`` is ``None`` when the order has no payment.
    """

    id: str
    number: str
    status: str
    payment_status: str
    fulfillment_status: str
    locale: str
    phone: str
    currency: str
    subtotal: int
    shipping_total: int
    discount_total: int
    total: int
    created_at: datetime
    lines: tuple[LineView, ...]
    shipping: ShippingLine | None = None
    payment: PaymentInfo | None = None


# ---------------------------------------------------------------------------- payments


@dataclass(frozen=True)
class PaymentRequest:
    """What a payment provider needs to start a payment for an order."""

    payment_id: str
    order_id: str
    order_number: str
    amount: int
    currency: str
    locale: str
    lines: tuple[LineView, ...]
    shipping_amount: int = 0
    phone: str | None = None
    return_url: str | None = None


@dataclass(frozen=True)
class PaymentAction:
    """The next step for the client after a payment was initiated.

    ``kind`` is ``"redirect"`` (send the shopper to ``url``), ``"form"`` (POST ``fields`` to
    ``url``) or ``"none"`` (nothing to do, e.g. cash on delivery).
    """

    kind: Literal["redirect", "form", "none"]
    url: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    """Outcome of a refund at the gateway."""

    succeeded: bool
    gateway_transaction_id: str | None = None
    message: str | None = None


@runtime_checkable
class PaymentProvider(Protocol):
    """A payment method (Payme, Click, cash on delivery, ...).

    ``initiate`` is called once an order awaits payment and returns what the client does next.
    Gateways report back asynchronously (their callback routes) through
    :class:`toolbox_core.api.PaymentService`, which checks amounts and is idempotent on the
    gateway's transaction id.
    """

    id: str
    name: str
    #: ``True`` when the order waits for an online payment; ``False`` for pay-on-delivery.
    online: bool
    #: Optional attributes (read with ``getattr``; absent means the default):
    #:
    #: * ``payment_timeout_seconds: int | None`` — how long an unpaid online order waits before
    #:   the payment-timeout job cancels it (default: ``checkout.payment_timeout_seconds``); a
    #:   gateway hold reported with ``authorize(..., hold_until=...)`` extends it;
    #: * ``refund_capability: "api" | "gateway_initiated" | "manual"`` — ``"api"`` (default):
    #:   the kernel calls :meth:`refund`; otherwise an admin cancel or refund records a refund
    #:   request (payment ``refund_pending``, ``payment.refund_requested``) that the gateway's
    #:   later report (``PaymentService.refund_in_session``) or staff complete.

    def initiate(self, request: PaymentRequest) -> PaymentAction | Awaitable[PaymentAction]:
        """Start a payment; return the client's next step."""
        ...

    def refund(self, payment_id: str, amount: int) -> RefundResult | Awaitable[RefundResult]:
        """Refund ``amount`` tiyin of a captured payment."""
        ...


# ---------------------------------------------------------------------------- shipping


@dataclass(frozen=True)
class ShippingQuote:
    """A shipping option for a given cart, priced on the server."""

    provider_id: str
    option_id: str
    name: str
    amount: int
    #: Provider data to keep with the choice (e.g. a courier's tariff id).
    data: dict[str, Any] = field(default_factory=dict)
    estimated_days: int | None = None
    #: ``False`` for options that need no delivery address (pickup from the store).
    requires_address: bool = True


@runtime_checkable
class ShippingProvider(Protocol):
    """A way to get goods to the customer (pickup, flat-rate courier, BTS, ...)."""

    id: str
    name: str

    def quote(self, cart: CartView) -> Iterable[ShippingQuote] | Awaitable[Iterable[ShippingQuote]]:
        """Return the options available for ``cart`` with their prices (empty: not available)."""
        ...


# ---------------------------------------------------------------------------- notifications


@dataclass(frozen=True)
class Notification:
    """A message to one recipient. ``to`` is a normalized phone (+998...) or an email address."""

    to: str
    text: str
    subject: str | None = None
    template: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: Stable id for idempotent delivery (e.g. the event id that caused it).
    idempotency_key: str | None = None


@runtime_checkable
class NotificationChannel(Protocol):
    """Delivers notifications of one ``kind`` (``"sms"``, ``"email"``, ...)."""

    id: str
    kind: str

    def send(self, notification: Notification) -> str | Awaitable[str | None] | None:
        """Send; return the gateway's message id if it has one. Raise to have the job retried."""
        ...


@runtime_checkable
class OtpSender(Protocol):
    """Delivers a one-time sign-in code (``toolbox_core.config.AuthSettings.otp_sender`` picks one)."""

    id: str

    def send_code(self, phone: str, text: str, locale: str) -> Awaitable[None] | None:
        """Send ``text`` (which contains the code) to ``phone`` (+998XXXXXXXXX). Raise on failure."""
        ...


# ---------------------------------------------------------------------------- inventory


@dataclass(frozen=True)
class StockLevel:
    """An absolute stocked quantity of a SKU at a location, as an inventory source reports it."""

    sku: str
    quantity: int
    location_code: str = "default"


@runtime_checkable
class InventorySource(Protocol):
    """An external system that owns stock counts (MoySklad). The kernel applies what it reports."""

    id: str

    def fetch_levels(self) -> Iterable[StockLevel] | Awaitable[Iterable[StockLevel]]:
        """Return current stocked quantities; SKUs not returned are left unchanged."""
        ...

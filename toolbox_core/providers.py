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
    #: Deprecated spelling of ``recipient_name`` (kept in step with it).
    name: str | None = None
    phone: str | None = None
    #: Optional carrier-neutral codes of the region and city/district (e.g. BTS ``"60"``, ``"6000"``).
    region_code: str | None = None
    city_code: str | None = None
    #: Who receives the parcel (the public address shape's field; ``name`` mirrors it).
    recipient_name: str | None = None

    def __post_init__(self) -> None:
        if self.recipient_name is None and self.name is not None:
            object.__setattr__(self, "recipient_name", self.name)
        elif self.name is None and self.recipient_name is not None:
            object.__setattr__(self, "name", self.recipient_name)


@dataclass(frozen=True)
class LineView:
    """One cart or order line as providers see it. Amounts are integers in tiyin."""

    variant_id: str
    sku: str
    title: str
    quantity: int
    unit_price: int
    #: Weight of one unit; ``None`` when the catalog does not know it (never a made-up 0).
    weight_grams: int | None = None
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


def _total_weight(lines: Iterable[LineView]) -> int | None:
    """Grams of ``lines``, ``None`` when any line's weight is unknown."""
    total = 0
    for line in lines:
        if line.weight_grams is None:
            return None
        total += line.weight_grams * line.quantity
    return total


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
    def weight_grams(self) -> int | None:
        """Total weight, or ``None`` when any line's weight is unknown (see ``known_weight_grams``)."""
        return _total_weight(self.lines)

    @property
    def known_weight_grams(self) -> int:
        """The weight of the lines whose weight is known."""
        return sum((line.weight_grams or 0) * line.quantity for line in self.lines)

    @property
    def lines_without_weight(self) -> tuple[LineView, ...]:
        """Lines whose variant has no weight in the catalog (a carrier uses its default for them)."""
        return tuple(line for line in self.lines if line.weight_grams is None)


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
    #: * ``names: dict[str, str]`` — the name shoppers see per locale (``{"ru": ..., "uz": ...}``),
    #:   falling back to the default locale's, then to ``name``;
    #: * ``refund_capability: "api" | "gateway_initiated" | "manual"`` — ``"api"`` (default):
    #:   the kernel calls :meth:`refund`; otherwise an admin cancel or refund records a refund
    #:   request (payment ``refund_pending``, ``payment.refund_requested``) that the gateway's
    #:   later report (``PaymentService.refund_in_session``) or staff complete;
    #: * ``local: bool`` — ``True`` when :meth:`initiate` never waits on anything outside the
    #:   process (no network, no disk: pay-on-delivery, a redirect URL built from settings), so
    #:   the kernel may call it right on the API worker's event loop instead of a worker thread
    #:   (:func:`is_local`; default ``False``: a gateway call). Say ``True`` only when it is, in the
    #:   class that defines ``initiate`` (a subclass that overrides it must say it again).

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
    #: Provider data the client must send when choosing this option (e.g. ``("branch_code",)``);
    #: the choice then goes through the provider's ``validate_option``.
    requires_data: tuple[str, ...] = ()


@runtime_checkable
class ShippingProvider(Protocol):
    """A way to get goods to the customer (pickup, flat-rate courier, BTS, ...).

    Only ``quote`` is required. A carrier that also fulfils orders implements some of the
    optional methods of :class:`FulfillmentProvider`; the kernel checks each one with
    :func:`supports` before calling it.
    """

    id: str
    name: str
    #: Optional attribute (read with ``getattr``): ``local: bool`` — ``True`` when :meth:`quote`
    #: (and ``validate_option``) never wait on anything outside the process (a flat rate, a price
    #: table in settings): the kernel then calls them directly, on the event loop, without the
    #: quote timeout's worker thread (:func:`is_local`; default ``False``: a carrier's API), said
    #: in the class that defines ``quote`` (a subclass that overrides it must say it again).

    def quote(self, cart: CartView) -> Iterable[ShippingQuote] | Awaitable[Iterable[ShippingQuote]]:
        """Return the options available for ``cart`` with their prices (empty: not available)."""
        ...


@dataclass(frozen=True)
class ShipmentRequest:
    """What a carrier needs to create a shipment for an order (built by the kernel, no session).

    ``cash_on_delivery`` is the amount (tiyin) the courier collects: the order total when the
    order is not paid online yet, else 0. ``shipping`` is the option chosen at checkout with
    its provider data (``{"provider_id", "option_id", "amount", "data": {...}}``).
    """

    order_id: str
    order_number: str
    locale: str
    phone: str
    address: Address | None
    shipping: dict[str, Any]
    lines: tuple[LineView, ...]
    subtotal: int
    shipping_total: int
    total: int
    cash_on_delivery: int = 0
    email: str | None = None

    @property
    def weight_grams(self) -> int | None:
        """Total weight, ``None`` when a line's weight is unknown."""
        return _total_weight(self.lines)


@dataclass(frozen=True)
class ShipmentDraft:
    """A carrier's answer to ``create_shipment``: its ids, tracking and cost (tiyin)."""

    external_id: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    label_url: str | None = None
    cost: int | None = None
    #: One of ``SHIPMENT_STATUSES`` (``toolbox_core.fulfillment``); normally ``"created"``.
    status: str = "created"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShipmentLabel:
    """A shipping label: the document bytes (``content_type`` e.g. ``application/pdf``) and/or a URL."""

    content: bytes | None = None
    content_type: str = "application/pdf"
    url: str | None = None


@dataclass(frozen=True)
class TrackingUpdate:
    """A carrier's current status of a shipment, mapped to a ``SHIPMENT_STATUSES`` value."""

    status: str
    carrier_status: str | None = None
    message: str = ""


@runtime_checkable
class FulfillmentProvider(Protocol):
    """The optional fulfilment side of a :class:`ShippingProvider`; implement any subset.

    * ``validate_option(cart, option_id, data)`` — check the provider data the client sent with
      its choice (a pickup branch) and return the option priced for it (the branch may be in
      another city than the address); raise ``InvalidInput`` for bad data. Without it, choices
      carrying data are refused.
    * ``create_shipment(order)`` — create the carrier's order; idempotent on ``order.order_number``.
    * ``cancel_shipment(shipment)`` — cancel at the carrier (raise ``Conflict`` when too late).
    * ``label(shipment)`` — the label document.
    * ``track(shipment)`` — the current status, or ``None`` when unknown.

    ``shipment`` is a :class:`toolbox_core.fulfillment.ShipmentView`. Called outside any
    database transaction; may be coroutines.
    """

    id: str

    def validate_option(self, cart: CartView, option_id: str,
                        data: dict[str, Any]) -> ShippingQuote | Awaitable[ShippingQuote]: ...

    def create_shipment(self, order: ShipmentRequest) -> ShipmentDraft | Awaitable[ShipmentDraft]: ...

    def cancel_shipment(self, shipment: Any) -> Awaitable[None] | None: ...

    def label(self, shipment: Any) -> ShipmentLabel | Awaitable[ShipmentLabel]: ...

    def track(self, shipment: Any) -> TrackingUpdate | Awaitable[TrackingUpdate | None] | None: ...


#: The optional methods of :class:`FulfillmentProvider`.
FULFILLMENT_CAPABILITIES = ("validate_option", "create_shipment", "cancel_shipment", "label", "track")


def is_local(provider: object, method: str) -> bool:
    """Whether ``provider``'s ``method`` (``"initiate"``, ``"quote"``, ``"validate_option"``)
    never waits on anything outside the process, so the kernel may call it on the event loop:
    ``provider.local is True``, and the class that defines ``method`` declares ``local`` itself
    (an attribute, a dataclass field, a property): a subclass that overrides ``quote`` to call
    a maps API is not local because its base was."""
    from toolbox_core.plugins.guard import ProviderGuard

    if isinstance(provider, ProviderGuard):
        provider = provider.wrapped
    if getattr(provider, "local", False) is not True:
        return False
    owner = next((cls for cls in type(provider).__mro__ if method in vars(cls)), None)
    return owner is not None and ("local" in vars(owner) or "local" in vars(owner).get("__annotations__", {}))


def supports(provider: object, capability: str) -> bool:
    """Whether ``provider`` implements the optional ``capability`` (a ``FULFILLMENT_CAPABILITIES`` name)."""
    if capability not in FULFILLMENT_CAPABILITIES:
        raise ValueError(f"unknown fulfilment capability {capability!r}")
    return callable(getattr(provider, capability, None))


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

    def send_code(self, phone: str, code: str, ttl: int, locale: str) -> Awaitable[str | bool | None] | str | bool | None:
        """Send sign-in ``code`` (valid ``ttl`` seconds) to ``phone`` (+998XXXXXXXXX) in ``locale``.

        The sender writes the text itself, normally with ``toolbox.templates.render("auth.otp_code",
        locale, {"code": code, "minutes": ...})`` so texts approved by the SMS gateway (or its
        test-mode text) can be used. Returns ``None`` or the gateway's message id when sent;
        ``False`` when nothing was sent but the shopper's answer must not change (the gateway
        refused it, the sender's own caps held it back): the kernel then keeps neither the code
        nor the resend delay. Raise on failure.
        """
        ...


# ---------------------------------------------------------------------------- inventory


@dataclass(frozen=True)
class StockLevel:
    """An absolute stocked quantity of a SKU at a location, as an inventory source reports it."""

    sku: str
    quantity: int
    location_code: str = "default"


@dataclass(frozen=True)
class StockBatch:
    """One batch of absolute levels streamed by :meth:`InventorySource.stream_levels`.

    ``cursor`` is where the source would resume after this batch (opaque to the kernel, handed
    back as ``since`` on a later call); ``as_of`` is the moment the figures were taken at the
    source (``None``: now), from which the recent-sales rule below counts.
    """

    levels: tuple[StockLevel, ...]
    cursor: str | None = None
    as_of: datetime | None = None


@runtime_checkable
class InventorySource(Protocol):
    """An external system that owns stock counts (MoySklad). The kernel applies what it reports.

    Two ways to report, the kernel uses the first the source has:

    * ``stream_levels(since: str | None) -> Iterable[StockBatch]`` (optional, preferred): the
      levels in batches, ``since`` being the cursor of a previous run (``None``: everything).
      The kernel applies each batch in its own transaction with one bulk statement
      (:func:`toolbox_core.inventory.sync.apply_stock_batch`), so any catalog size works
      without holding it in memory or in one transaction.
    * ``fetch_levels()`` (the v1.0 protocol): every level at once; the kernel cuts it into
      batches of ``settings.inventory.sync_batch_size``.

    The rules the kernel applies to what a source reports (``toolbox_core.inventory.sync``):

    * only SKUs of catalog variants are written; others are counted as ``unknown`` (never
      inserted); a level is written only where the figure changed; ``reserved`` is never
      written, so concurrent reservations are kept (a figure below what is reserved is written
      and reported in ``below_reserved``); SKUs not reported are left unchanged;
    * **recent sales**: the figure is an absolute count as the source knows it. Units sold here
      (reservations converted) within ``settings.inventory.sales_lag_seconds`` before the
      batch's ``as_of`` are assumed unknown to the source and subtracted from its figure, so a
      count taken before the source heard of a sale does not put the sold units back on sale;
    * ``inventory.updated`` lists the SKUs that changed, one event per batch.
    """

    id: str

    def fetch_levels(self) -> Iterable[StockLevel] | Awaitable[Iterable[StockLevel]]:
        """Return current stocked quantities; SKUs not returned are left unchanged."""
        ...

"""Cart service: lines, details, shipping and payment choice; totals always computed here.

Every mutation locks the cart row (``SELECT ... FOR UPDATE``; SQLite serializes writers), so
a cart being completed can never be changed at the same time. Shipping prices come from the
providers (outside any transaction) and any change of lines or address drops the choice.

Every store call is a few round trips (the full checkout's SQL is counted by
``tests/checkout/test_checkout_sql_budget.py``): the cart and its lines are read in one locked
statement, catalog snapshots are read once per call, and the cart's expiry moves forward at most
once per :data:`TOUCH_STEP` (an edit within a minute of the last one writes only its lines).
Carts, lines and payment sessions are read and written with core statements
(:mod:`toolbox_core.cart.rows`), not through the ORM's unit of work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from toolbox_core.cart import rows
from toolbox_core.cart.models import Cart
from toolbox_core.cart.rows import CartRow, LineRow
from toolbox_core.catalog.snapshots import VariantSnapshot, variant_snapshots
from toolbox_core.customers.models import Customer
from toolbox_core.customers.phone import normalize_phone
from toolbox_core.customers.schemas import public_address
from toolbox_core.db.base import utcnow
from toolbox_core.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from toolbox_core.i18n import cart_locale, parse_locale
from toolbox_core.ids import new_id
from toolbox_core.inventory.service import OutOfStock
from toolbox_core.payments.models import Payment
from toolbox_core.providers import Address, CartView, LineView, ShippingQuote
from toolbox_core.schemas import iso_utc
from toolbox_core.shipping.service import quote_all, quote_one


class CartCompleted(Conflict):
    """The cart became an order; start a new cart (``GET /store/carts/current``)."""

    code = "cart_completed"


class CartExpired(Gone):
    code = "cart_expired"


CartUnavailable = (CartCompleted, CartExpired)

#: The expiry is moved forward only when that moves it by more than this, so adding several
#: lines in a row writes the cart row once (a cart lives ``cart.ttl_days``; a minute is noise).
TOUCH_STEP = timedelta(minutes=1)


# Built once: constructing a statement (and its cache key) per call costs more CPU than running it.
_PAYMENTS = Payment.__table__
#: A cart's payment session (not yet attached to an order): its id and provider.
_PENDING_PAYMENT = select(_PAYMENTS.c.id, _PAYMENTS.c.provider_id).where(
    _PAYMENTS.c.cart_id == bindparam("cart_id"), _PAYMENTS.c.order_id.is_(None))
_INSERT_PAYMENT = insert(_PAYMENTS)
_SWITCH_PAYMENT = update(_PAYMENTS).where(_PAYMENTS.c.id == bindparam("b_id"))


@dataclass(frozen=True)
class PaymentRef:
    """A cart's payment session as its JSON shows it."""

    id: str
    provider_id: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_usable(cart: CartRow | Cart, customer_id: str | None) -> None:
    """Raise the clear error for a cart that is not ours, completed or expired."""
    cart_locale(cart.locale)  # from here on, the request's texts are in the cart's locale
    if cart.customer_id is not None and cart.customer_id != customer_id:
        raise Forbidden("this cart belongs to another customer", code="cart_forbidden")
    if cart.status == "completed":
        raise CartCompleted("this cart has been completed; start a new one",
                            details={"cart_id": cart.id, "order_id": cart.order_id})
    if cart.status == "expired" or _aware(cart.expires_at) <= datetime.now(UTC):
        raise CartExpired("this cart has expired; start a new one", details={"cart_id": cart.id})


def lock_cart(session: Session, cart_id: str, customer_id: str | None) -> CartRow:
    """The open cart ``cart_id``, row-locked, adopted by a signed-in customer; else a clear error.

    Changes (the adoption too) are written by :func:`toolbox_core.cart.rows.save`."""
    cart = rows.load(session, cart_id, lock=True)
    if cart is None:
        raise NotFound("no such cart", code="cart_not_found", details={"cart_id": cart_id})
    check_usable(cart, customer_id)
    if customer_id and cart.customer_id is None:
        adopt(session, cart, customer_id)
    return cart


def customer_phone(session: Session, customer_id: str) -> str | None:
    """The verified phone of a customer (their identity), or ``None``."""
    from toolbox_core.customers.models import Customer

    return session.scalar(select(Customer.phone).where(Customer.id == customer_id))


def adopt(session: Session, cart: CartRow, customer_id: str) -> None:
    """Give ``cart`` to the signed-in customer; it takes their verified phone if it has none."""
    cart.set(customer_id=customer_id)
    if not cart.phone:
        cart.set(phone=customer_phone(session, customer_id))


def load_cart(session: Session, cart_id: str, customer_id: str | None) -> CartRow:
    """The cart ``cart_id`` and its lines (one statement), if usable by ``customer_id``; else a clear error."""
    cart = rows.load(session, cart_id, lock=False)
    if cart is None:
        raise NotFound("no such cart", code="cart_not_found", details={"cart_id": cart_id})
    check_usable(cart, customer_id)
    return cart


# ------------------------------------------------------------------------------ views
def snapshots_for(toolbox: Any, session: Session, cart: CartRow) -> dict[str, VariantSnapshot]:
    return variant_snapshots(session, [ln.variant_id for ln in cart.lines], cart_locale(cart.locale),
                             toolbox.settings.default_locale)


def options_of(snaps: dict[str, VariantSnapshot]) -> dict[str, list[dict[str, str]]]:
    """The chosen options (``[{name, value}]``, in the snapshots' locale) of each variant."""
    return {variant_id: [{"name": name, "value": value} for name, value in snap.options]
            for variant_id, snap in snaps.items() if snap.options}


def line_view(line: LineRow, snap: VariantSnapshot) -> LineView:
    """A cart line priced and described from its variant's catalog snapshot."""
    return LineView(line.variant_id, snap.sku, snap.title, line.quantity, snap.unit_price, snap.weight_grams,
                    snap.mxik_code, snap.package_code, snap.vat_percent)


def line_views(cart: CartRow, snaps: dict[str, VariantSnapshot]) -> tuple[LineView, ...]:
    """Lines whose variant still exists and is published, priced from the catalog now."""
    return tuple(line_view(line, snaps[line.variant_id]) for line in cart.lines
                 if line.variant_id in snaps and snaps[line.variant_id].published)


def cart_view(cart: CartRow, snaps: dict[str, VariantSnapshot]) -> CartView:
    lines = line_views(cart, snaps)
    address = Address(**cart.address) if cart.address else None
    return CartView(cart.id, cart_locale(cart.locale), lines, sum(ln.total for ln in lines), cart.phone, address, cart.customer_id)


def totals(cart: CartRow, snaps: dict[str, VariantSnapshot]) -> dict[str, int]:
    subtotal = sum(ln.total for ln in line_views(cart, snaps))
    shipping = int(cart.shipping["amount"]) if cart.shipping else 0
    return {"subtotal": subtotal, "shipping": shipping, "discount": 0, "total": subtotal + shipping}


def serialize(cart: CartRow, snaps: dict[str, VariantSnapshot], payment: PaymentRef | None = None,
              options: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    lines = []
    for line in cart.lines:
        s = snaps.get(line.variant_id)
        ok = s is not None and s.published
        lines.append({
            "id": line.id,
            "variant_id": line.variant_id,
            "sku": s.sku if s else None,
            "title": s.title if s else None,
            "options": (options or {}).get(line.variant_id, []),
            "quantity": line.quantity,
            "unit_price": s.unit_price if ok else 0,
            "total": s.unit_price * line.quantity if ok else 0,
            "available": ok,
        })
    return {
        "id": cart.id,
        "status": cart.status,
        "locale": cart.locale,
        "customer_id": cart.customer_id,
        "phone": cart.phone,
        "email": cart.email,
        "address": public_address(cart.address),
        "lines": lines,
        "shipping": cart.shipping,
        "payment": {"id": payment.id, "provider_id": payment.provider_id} if payment else None,
        "totals": totals(cart, snaps),
        "currency": "UZS",
        "expires_at": iso_utc(cart.expires_at),
    }


def _pending_payment(session: Session, cart: CartRow) -> PaymentRef | None:
    if cart.payment_provider_id is None:  # no payment session yet: skip the query
        return None
    row = session.connection().execute(_PENDING_PAYMENT, {"cart_id": cart.id}).first()
    return PaymentRef(row.id, row.provider_id) if row else None


# ------------------------------------------------------------------------------ service
class CartService:
    """Everything the store API does to a cart (exported by ``toolbox_core.api``).

    ``CartService(toolbox)``; every method opens its own transaction and checks ownership as
    the store API does (``customer_id`` is the signed-in customer, ``None`` for a guest):

    * read: :meth:`view` (a :class:`~toolbox_core.api.CartView`, what providers see),
      :meth:`get` (the store API's JSON), :meth:`shipping_options`, :meth:`payment_options`;
    * change: :meth:`create`, :meth:`add_line`, :meth:`set_quantity`, :meth:`remove_line`,
      :meth:`update` (``phone``, ``email``, ``address``, ``locale``, ``note``),
      :meth:`select_shipping`, :meth:`select_payment`.

    Errors are the kernel's (``NotFound``, ``Forbidden``, ``InvalidInput``, ``Conflict``...).
    """

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox
        self.settings = toolbox.settings.cart

    def _locale(self, locale: str | None) -> str:
        """A cart's locale: ``locale`` (tolerant: ``uz-Latn`` is ``uz``; 422 when unknown), else the default."""
        if locale is None:
            return self.toolbox.settings.default_locale
        return parse_locale(locale, self.toolbox.settings.locales)

    def _touch(self, cart: CartRow) -> None:
        """Move the expiry to ``ttl_days`` from now (skipped when that moves it by less than a minute)."""
        expires_at = utcnow() + timedelta(days=self.settings.ttl_days)
        if cart.expires_at is None or expires_at - _aware(cart.expires_at) > TOUCH_STEP:
            cart.set(expires_at=expires_at)

    def _result(self, session: Session, cart: CartRow, snaps: dict[str, VariantSnapshot] | None = None,
                payment: PaymentRef | bool | None = False) -> dict[str, Any]:
        """Write the cart's changes, then its store JSON; ``payment``: its pending payment when the
        caller has it (``False``: read it)."""
        rows.save(session, cart)
        if snaps is None:
            snaps = snapshots_for(self.toolbox, session, cart)
        pending = _pending_payment(session, cart) if payment is False else payment
        return serialize(cart, snaps, pending, options_of(snaps))

    def _snapshots(self, session: Session, cart: CartRow, changed: str) -> dict[str, VariantSnapshot]:
        """The lines' snapshots, and ``changed``'s (it may be new) with its holdable stock: one statement."""
        ids = [ln.variant_id for ln in cart.lines] + [changed]
        return variant_snapshots(session, ids, cart_locale(cart.locale), self.toolbox.settings.default_locale,
                                 holdable_for=[changed])

    def create(self, customer_id: str | None, locale: str | None = None, phone: str | None = None) -> dict[str, Any]:
        cart = CartRow(id=new_id("cart"), status="open", locale=self._locale(locale), customer_id=customer_id,
                       phone=normalize_phone(phone) if phone else None, email=None, address=None, shipping=None,
                       payment_provider_id=None, order_id=None,
                       expires_at=utcnow() + timedelta(days=self.settings.ttl_days))
        cart_locale(cart.locale)
        with self.toolbox.db.transaction() as session:
            if customer_id and not cart.phone:
                cart.phone = customer_phone(session, customer_id)
            rows.insert_cart(session, cart)  # a new cart has no lines and no payment: nothing to read back
            return self._result(session, cart, {}, None)

    def get(self, cart_id: str, customer_id: str | None) -> dict[str, Any]:
        with self.toolbox.db.session() as session:
            cart = load_cart(session, cart_id, customer_id)
            snaps = snapshots_for(self.toolbox, session, cart)
            return serialize(cart, snaps, _pending_payment(session, cart), options_of(snaps))

    def current(self, cart_id: str | None, customer_id: str | None, locale: str | None = None,
                fallback: str | None = None) -> dict[str, Any]:
        """The cart ``cart_id`` if still usable, else a fresh one (the recovery path).

        The fresh cart's locale: ``locale`` (the request's explicit one), else the previous
        cart's (completed or expired), else the signed-in customer's, else ``fallback`` (the
        request's ``Accept-Language``), else the store default.
        """
        if cart_id:
            try:
                return self.get(cart_id, customer_id)
            except (NotFound, Forbidden, CartCompleted, CartExpired):
                pass
        return self.create(customer_id, locale or self._previous_locale(cart_id, customer_id) or fallback)

    def _previous_locale(self, cart_id: str | None, customer_id: str | None) -> str | None:
        """The locale of the shopper's previous cart (the cookie's, else the signed-in customer's
        latest), else the customer's own, if the store still has it."""
        with self.toolbox.db.session() as session:
            found = None
            if cart_id:
                found = session.scalar(select(Cart.locale).where(
                    Cart.id == cart_id, (Cart.customer_id.is_(None)) | (Cart.customer_id == customer_id)))
            if found is None and customer_id:
                found = session.scalar(select(Cart.locale).where(Cart.customer_id == customer_id)
                                       .order_by(Cart.created_at.desc()).limit(1))
            if found is None and customer_id:
                found = session.scalar(select(Customer.locale).where(Customer.id == customer_id))
        return found if found in self.toolbox.settings.locales else None

    # -------------------------------------------------------------- lines
    def _check_quantity(self, quantity: int) -> None:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise InvalidInput("quantity must be at least 1", code="invalid_quantity")
        if quantity > self.settings.max_quantity_per_line:
            raise InvalidInput(f"at most {self.settings.max_quantity_per_line} per line",
                               code="quantity_over_limit", details={"max": self.settings.max_quantity_per_line})

    @staticmethod
    def _check_available(snaps: dict[str, VariantSnapshot], variant_id: str, quantity: int) -> None:
        """``quantity`` of ``variant_id`` fits what one location holds (its snapshot's ``holdable``)."""
        snap = snaps.get(variant_id)
        if snap is None or not snap.published:
            raise InvalidInput(f"unknown variant {variant_id!r}", code="unknown_variant",
                               details={"variant_id": variant_id})
        available = snap.holdable or 0  # one location holds a line, as checkout reserves it
        if quantity > available:
            raise OutOfStock(f"only {available} of {snap.sku} available",
                             details={"variant_id": variant_id, "available": available, "requested": quantity,
                                      "items": [{"sku": snap.sku, "requested": quantity, "available": available}]})

    def add_line(self, cart_id: str, customer_id: str | None, variant_id: str, quantity: int) -> dict[str, Any]:
        with self.toolbox.db.transaction() as session:
            cart = lock_cart(session, cart_id, customer_id)  # first: a refusal is told in the cart's locale
            self._check_quantity(quantity)
            line = next((ln for ln in cart.lines if ln.variant_id == variant_id), None)
            new_quantity = quantity + (line.quantity if line else 0)
            self._check_quantity(new_quantity)
            if line is None and len(cart.lines) >= self.settings.max_lines:
                raise InvalidInput(f"a cart holds at most {self.settings.max_lines} lines", code="too_many_lines")
            snaps = self._snapshots(session, cart, variant_id)
            self._check_available(snaps, variant_id, new_quantity)
            if line is None:
                rows.add_line(session, cart, LineRow(new_id("cline"), variant_id, quantity, len(cart.lines)))
            else:
                rows.set_quantity(session, line, new_quantity)
            self._changed(cart)
            return self._result(session, cart, snaps)

    def set_quantity(self, cart_id: str, customer_id: str | None, variant_id: str, quantity: int) -> dict[str, Any]:
        with self.toolbox.db.transaction() as session:
            cart = lock_cart(session, cart_id, customer_id)  # first: a refusal is told in the cart's locale
            self._check_quantity(quantity)
            line = self._line(cart, variant_id)
            snaps = self._snapshots(session, cart, variant_id)
            self._check_available(snaps, variant_id, quantity)
            if line.quantity != quantity:
                rows.set_quantity(session, line, quantity)
            self._changed(cart)
            return self._result(session, cart, snaps)

    def remove_line(self, cart_id: str, customer_id: str | None, variant_id: str) -> dict[str, Any]:
        with self.toolbox.db.transaction() as session:
            cart = lock_cart(session, cart_id, customer_id)
            rows.remove_line(session, cart, self._line(cart, variant_id))
            self._changed(cart)
            return self._result(session, cart)

    @staticmethod
    def _line(cart: CartRow, variant_id: str) -> LineRow:
        line = next((ln for ln in cart.lines if ln.variant_id == variant_id), None)
        if line is None:
            raise NotFound("this variant is not in the cart", code="line_not_found", details={"variant_id": variant_id})
        return line

    def _changed(self, cart: CartRow) -> None:
        """Lines or destination changed: the shipping price must be asked for again."""
        if cart.shipping is not None:
            cart.set(shipping=None)
        self._touch(cart)

    # -------------------------------------------------------------- details
    def update(self, cart_id: str, customer_id: str | None, changes: dict[str, Any]) -> dict[str, Any]:
        """Set locale, phone (normalized), e-mail and/or the Uzbek address."""
        values = dict(changes)
        if values.get("locale") is not None:
            values["locale"] = self._locale(values["locale"])
        if values.get("phone") is not None:
            values["phone"] = normalize_phone(values["phone"])
        address = values.get("address")
        if address is not None and address.get("phone"):
            address["phone"] = normalize_phone(address["phone"])
        with self.toolbox.db.transaction() as session:
            cart = lock_cart(session, cart_id, customer_id)
            for key in ("locale", "phone", "email"):
                if values.get(key) is not None and values[key] != getattr(cart, key):
                    cart.set(**{key: values[key]})
            if "address" in values:
                cart.set(address=address)
                self._changed(cart)
            self._touch(cart)
            return self._result(session, cart)

    # -------------------------------------------------------------- shipping
    def view(self, cart_id: str, customer_id: str | None) -> CartView:
        """A read-only snapshot of the cart, lines priced from the catalog now."""
        return self._view(cart_id, customer_id)

    def _view(self, cart_id: str, customer_id: str | None) -> CartView:
        return self._view_and_snapshots(cart_id, customer_id)[0]

    def _view_and_snapshots(self, cart_id: str, customer_id: str | None) -> tuple[CartView, dict[str, VariantSnapshot]]:
        with self.toolbox.db.session() as session:
            cart = load_cart(session, cart_id, customer_id)
            snaps = snapshots_for(self.toolbox, session, cart)
            return cart_view(cart, snaps), snaps

    def shipping_options(self, cart_id: str, customer_id: str | None) -> list[dict[str, Any]]:
        """Options priced by the providers for this cart (called outside any transaction)."""
        view = self._view(cart_id, customer_id)
        return [asdict(q) for q in quote_all(self.toolbox, view)]

    def select_shipping(self, cart_id: str, customer_id: str | None, provider_id: str, option_id: str,
                        data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Price the option on the server (``data``: provider data the provider validates) and keep it."""
        view, snaps = self._view_and_snapshots(cart_id, customer_id)
        if not view.lines:
            raise InvalidInput("add items before choosing shipping", code="cart_empty")
        quote: ShippingQuote = quote_one(self.toolbox, view, provider_id, option_id, data)
        with self.toolbox.db.transaction() as session:
            cart = lock_cart(session, cart_id, customer_id)
            # The lines and address under the lock must be those the quote priced; the catalog
            # snapshots read for the quote a moment ago price them (no second read).
            current = cart_view(cart, snaps)
            if current.lines != view.lines or current.address != view.address:
                raise Conflict("the cart changed while shipping was priced; try again", code="cart_changed")
            cart.set(shipping=asdict(quote))
            self._touch(cart)
            return self._result(session, cart, snaps)

    # -------------------------------------------------------------- payment
    def select_payment(self, cart_id: str, customer_id: str | None, provider_id: str) -> dict[str, Any]:
        """Open (or switch) the cart's payment session with ``provider_id``."""
        if provider_id not in self.toolbox.payment_providers:
            raise InvalidInput(f"unknown payment provider {provider_id!r}", code="unknown_payment_provider",
                               details={"available": sorted(self.toolbox.payment_providers)})
        with self.toolbox.db.transaction() as session:
            cart = lock_cart(session, cart_id, customer_id)
            payment = _pending_payment(session, cart)  # none before the first choice: no query
            if cart.payment_provider_id != provider_id:
                cart.set(payment_provider_id=provider_id)
            snaps = snapshots_for(self.toolbox, session, cart)
            amount = totals(cart, snaps)["total"]
            if payment is None:
                payment = PaymentRef(new_id("pay"), provider_id)
                session.connection().execute(_INSERT_PAYMENT, {
                    "id": payment.id, "cart_id": cart.id, "provider_id": provider_id, "status": "pending",
                    "amount": amount, "currency": self.toolbox.settings.currency})
            else:
                payment = PaymentRef(payment.id, provider_id)
                session.connection().execute(_SWITCH_PAYMENT, {"b_id": payment.id, "provider_id": provider_id,
                                                               "amount": amount})
            self._touch(cart)
            return self._result(session, cart, snaps, payment)

    def payment_options(self, cart_id: str, customer_id: str | None) -> list[dict[str, Any]]:
        """The installed payment providers for this cart: ``{id, name, online}``, named in the cart's locale."""
        with self.toolbox.db.session() as session:
            locale = load_cart(session, cart_id, customer_id).locale
        default = self.toolbox.settings.default_locale
        return [{"id": provider_id, "name": provider_name(provider, locale, default), "online": bool(provider.online)}
                for provider_id, provider in self.toolbox.payment_providers.items()]


def provider_name(provider: Any, locale: str, default_locale: str) -> str:
    """A provider's ``names[locale]`` (optional attribute), else ``names[default_locale]``, else ``name``."""
    names = getattr(provider, "names", None) or {}
    return names.get(locale) or names.get(default_locale) or provider.name

"""Cart service: lines, details, shipping and payment choice; totals always computed here.

Every change is optimistic (:func:`toolbox_core.cart.rows.write`): the cart, its lines and its
payment session are read in one statement, the change is checked against what was read, and
it is written only if the cart row is still that version (and open); otherwise the cart is
read again and the change re-checked (:data:`ATTEMPTS` times). Completing a cart locks and
writes its row, so a cart being completed can never be changed at the same time. Shipping
prices come from the providers (outside any transaction and with no connection held) and any
change of lines or address drops the choice.

Every store call is a few round trips (the full checkout's SQL is counted by
``tests/checkout/test_checkout_sql_budget.py``). On PostgreSQL a call runs on an autocommit
connection (no ``BEGIN``/``COMMIT``): reads are one statement each (the cart with its lines and
payment session; the catalog snapshots, once per call) and a change is ONE statement, answered
without waiting for the WAL flush unless ``cart.async_commit`` is off (a cart is state a shopper
can redo; the order that completes it is always durable, and makes it durable too). On SQLite
a change runs in one ``BEGIN IMMEDIATE`` transaction (writers are serialized anyway). Carts,
lines and payment sessions are read and written with core statements
(:mod:`toolbox_core.cart.rows`), not through the ORM's unit of work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from toolbox_core.cart import rows
from toolbox_core.cart.models import Cart
from toolbox_core.cart.rows import CartRow, LineRow, PaymentRef
from toolbox_core.catalog.snapshots import VariantSnapshot, variant_snapshots
from toolbox_core.customers.models import Customer
from toolbox_core.customers.phone import normalize_phone
from toolbox_core.customers.schemas import public_address
from toolbox_core.db.base import utcnow
from toolbox_core.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from toolbox_core.i18n import cart_locale, parse_locale
from toolbox_core.ids import new_id
from toolbox_core.inventory.service import OutOfStock
from toolbox_core.providers import Address, CartView, LineView, ShippingQuote
from toolbox_core.schemas import iso_utc
from toolbox_core.shipping.service import quote_all, quote_one, quotes_of

log = logging.getLogger("toolbox.cart")

__all__ = ["ATTEMPTS", "CartCompleted", "CartExpired", "CartService", "CartUnavailable", "PaymentRef"]


class CartCompleted(Conflict):
    """The cart became an order; start a new cart (``GET /store/carts/current``)."""

    code = "cart_completed"


class CartExpired(Gone):
    code = "cart_expired"


CartUnavailable = (CartCompleted, CartExpired)

#: How many times a change is re-read and re-checked when the cart changed under it.
ATTEMPTS = 5


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


def customer_phone(session: Session | Connection, customer_id: str) -> str | None:
    """The verified phone of a customer (their identity), or ``None``."""
    return session.scalar(select(Customer.phone).where(Customer.id == customer_id))


def adopt(session: Session | Connection, cart: CartRow, customer_id: str) -> None:
    """Give ``cart`` to the signed-in customer; it takes their verified phone if it has none."""
    cart.set(customer_id=customer_id)
    if not cart.phone:
        cart.set(phone=customer_phone(session, customer_id))


class _QueriedCatalog:
    """SQLite: the snapshots of a cart's lines (and of ``extra``), queried when asked for."""

    def __init__(self, db: Session | Connection, ids: list[str], default_locale: str, extra: str | None) -> None:
        self.db, self.ids, self.default_locale, self.extra = db, ids, default_locale, extra

    def snapshots(self, locale: str) -> dict[str, VariantSnapshot]:
        return variant_snapshots(self.db, self.ids, locale, self.default_locale,
                                 holdable_for=[self.extra] if self.extra else [])


class _Known:
    """Snapshots read a moment ago (for a shipping quote), in the cart's locale."""

    def __init__(self, snaps: dict[str, VariantSnapshot]) -> None:
        self.snaps = snaps

    def snapshots(self, locale: str) -> dict[str, VariantSnapshot]:
        return self.snaps


#: The catalog snapshots read with a cart: ``.snapshots(locale)``.
Catalog = rows.Catalog | _QueriedCatalog | _Known
#: A cart as read for a change or an answer, with its catalog snapshots.
Read = tuple[CartRow, Catalog]


def load_cart(toolbox: Any, db: Session | Connection, cart_id: str, customer_id: str | None, *,
              extra: str | None = None, lock: bool = False, any_owner: bool = False) -> Read:
    """The cart ``cart_id`` with the catalog snapshots of its lines (and of ``extra``, a variant
    being added, with its holdable stock), if usable by ``customer_id`` (whoever owns it with
    ``any_owner``); else a clear error. ``lock``: the cart row locked (checkout).

    One statement on PostgreSQL (:func:`toolbox_core.cart.rows.load` with the snapshots); on
    SQLite the cart, then the snapshots queried when asked for."""
    default = toolbox.settings.default_locale
    locales = None if toolbox.db.is_sqlite else sorted({*toolbox.settings.locales, default})
    cart, catalog = rows.load(db, cart_id, lock=lock, locales=locales, default_locale=default, extra=extra)
    if cart is None:
        raise NotFound("no such cart", code="cart_not_found", details={"cart_id": cart_id})
    check_usable(cart, cart.customer_id if any_owner else customer_id)
    if catalog is None:
        ids = [ln.variant_id for ln in cart.lines] + ([extra] if extra else [])
        return cart, _QueriedCatalog(db, ids, default, extra)
    return cart, catalog


# ------------------------------------------------------------------------------ views
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


#: What a change does to the cart it was given (read a moment ago): records its changes on it
#: and returns the catalog snapshots of its lines for the answer.
Change = Callable[[Connection, CartRow, Catalog], dict[str, VariantSnapshot]]


# ------------------------------------------------------------------------------ service
class CartService:
    """Everything the store API does to a cart (exported by ``toolbox_core.api``).

    ``CartService(toolbox)``; every method checks ownership as the store API does
    (``customer_id`` is the signed-in customer, ``None`` for a guest) and is atomic:

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

    # -------------------------------------------------------------- connections
    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for reads: autocommit on PostgreSQL (no BEGIN/COMMIT round trips; each
        statement sees committed data), a read session's on SQLite."""
        with self.toolbox.db.statements() as conn:
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A connection for a change: autocommit on PostgreSQL (the write is one atomic
        statement, which skips the WAL flush unless ``cart.async_commit`` is off: see
        :attr:`_durable`), one ``BEGIN IMMEDIATE`` transaction on SQLite."""
        with self.toolbox.db.statements(write=True) as conn:
            yield conn

    @property
    def _durable(self) -> bool:
        """Whether a cart edit waits for the WAL flush (PostgreSQL; ``cart.async_commit`` off)."""
        return not self.settings.async_commit

    def _change(self, cart_id: str, customer_id: str | None, change: Change, read: Read | None = None,
                extra: str | None = None) -> dict[str, Any]:
        """Read the cart (unless given, read a moment ago) with its snapshots, apply ``change`` to
        it and write it if it is still that version; else read again and re-apply (:data:`ATTEMPTS`
        in all). A signed-in customer adopts a guest cart. Returns the store JSON, built from what
        was read and written (no read-back)."""
        with self._writing() as conn:
            for _ in range(ATTEMPTS):
                cart, catalog = read or load_cart(self.toolbox, conn, cart_id, customer_id, extra=extra)
                if customer_id and cart.customer_id is None:
                    adopt(conn, cart, customer_id)
                snaps = change(conn, cart, catalog)
                self._touch(cart)
                if rows.write(conn, cart, utcnow(), durable=self._durable):
                    return serialize(cart, snaps, cart.payment, options_of(snaps))
                read = None  # changed meanwhile (or completed): read it again
        raise Conflict("the cart is being changed elsewhere; try again", code="cart_changed")

    def _locale(self, locale: str | None) -> str:
        """A cart's locale: ``locale`` (tolerant: ``uz-Latn`` is ``uz``; 422 when unknown), else the default."""
        if locale is None:
            return self.toolbox.settings.default_locale
        return parse_locale(locale, self.toolbox.settings.locales)

    def _touch(self, cart: CartRow) -> None:
        """Move the expiry to ``ttl_days`` from now (the row is written with every change anyway)."""
        cart.set(expires_at=utcnow() + timedelta(days=self.settings.ttl_days))

    def create(self, customer_id: str | None, locale: str | None = None, phone: str | None = None) -> dict[str, Any]:
        cart = CartRow(id=new_id("cart"), status="open", locale=self._locale(locale), customer_id=customer_id,
                       phone=normalize_phone(phone) if phone else None, email=None, address=None, shipping=None,
                       payment_provider_id=None, order_id=None,
                       expires_at=utcnow() + timedelta(days=self.settings.ttl_days))
        cart_locale(cart.locale)
        with self._writing() as conn:  # PostgreSQL: one autocommit INSERT
            if customer_id and not cart.phone:
                cart.phone = customer_phone(conn, customer_id)
            rows.insert_cart(conn, cart, utcnow(), durable=self._durable)  # a new cart has no lines and no payment: nothing to read back
        return serialize(cart, {}, None, {})

    def get(self, cart_id: str, customer_id: str | None) -> dict[str, Any]:
        cart, snaps = self._read(cart_id, customer_id)
        return serialize(cart, snaps, cart.payment, options_of(snaps))

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
        with self._reading() as conn:
            found = None
            if cart_id:
                found = conn.scalar(select(Cart.locale).where(
                    Cart.id == cart_id, (Cart.customer_id.is_(None)) | (Cart.customer_id == customer_id)))
            if found is None and customer_id:
                found = conn.scalar(select(Cart.locale).where(Cart.customer_id == customer_id)
                                    .order_by(Cart.created_at.desc()).limit(1))
            if found is None and customer_id:
                found = conn.scalar(select(Customer.locale).where(Customer.id == customer_id))
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
        def change(conn: Connection, cart: CartRow, catalog: Catalog) -> dict[str, VariantSnapshot]:
            # The cart is read first: a refusal is told in the cart's locale.
            self._check_quantity(quantity)
            line = next((ln for ln in cart.lines if ln.variant_id == variant_id), None)
            new_quantity = quantity + (line.quantity if line else 0)
            self._check_quantity(new_quantity)
            if line is None and len(cart.lines) >= self.settings.max_lines:
                raise InvalidInput(f"a cart holds at most {self.settings.max_lines} lines", code="too_many_lines")
            snaps = catalog.snapshots(cart_locale(cart.locale))
            self._check_available(snaps, variant_id, new_quantity)
            if line is None:
                rows.add_line(cart, LineRow(new_id("cline"), variant_id, quantity, len(cart.lines)))
            else:
                rows.set_quantity(cart, line, new_quantity)
            self._changed(cart)
            return snaps

        return self._change(cart_id, customer_id, change, extra=variant_id)

    def set_quantity(self, cart_id: str, customer_id: str | None, variant_id: str, quantity: int) -> dict[str, Any]:
        def change(conn: Connection, cart: CartRow, catalog: Catalog) -> dict[str, VariantSnapshot]:
            self._check_quantity(quantity)  # after the read: a refusal is told in the cart's locale
            line = self._line(cart, variant_id)
            snaps = catalog.snapshots(cart_locale(cart.locale))
            self._check_available(snaps, variant_id, quantity)
            if line.quantity != quantity:
                rows.set_quantity(cart, line, quantity)
            self._changed(cart)
            return snaps

        return self._change(cart_id, customer_id, change, extra=variant_id)

    def remove_line(self, cart_id: str, customer_id: str | None, variant_id: str) -> dict[str, Any]:
        def change(conn: Connection, cart: CartRow, catalog: Catalog) -> dict[str, VariantSnapshot]:
            rows.remove_line(cart, self._line(cart, variant_id))
            self._changed(cart)
            return catalog.snapshots(cart_locale(cart.locale))

        return self._change(cart_id, customer_id, change)

    @staticmethod
    def _line(cart: CartRow, variant_id: str) -> LineRow:
        line = next((ln for ln in cart.lines if ln.variant_id == variant_id), None)
        if line is None:
            raise NotFound("this variant is not in the cart", code="line_not_found", details={"variant_id": variant_id})
        return line

    @staticmethod
    def _changed(cart: CartRow) -> None:
        """Lines or destination changed: the shipping price must be asked for again."""
        if cart.shipping is not None:
            cart.set(shipping=None)

    # -------------------------------------------------------------- details
    def update(self, cart_id: str, customer_id: str | None, changes: dict[str, Any]) -> dict[str, Any]:
        """Set locale, phone (normalized), e-mail and/or the Uzbek address.

        A new locale renames the chosen shipping option in it (its provider is asked again,
        outside any transaction; the price chosen stays)."""
        values = dict(changes)
        if values.get("locale") is not None:
            values["locale"] = self._locale(values["locale"])
        if values.get("phone") is not None:
            values["phone"] = normalize_phone(values["phone"])
        address = values.get("address")
        if address is not None and address.get("phone"):
            address["phone"] = normalize_phone(address["phone"])
        renamed: dict[str, Any] | None = None
        read: Read | None = None
        if values.get("locale") is not None and "address" not in values:
            with self._reading() as conn:
                read = load_cart(self.toolbox, conn, cart_id, customer_id)
                cart, snaps = read[0], read[1].snapshots(cart_locale(read[0].locale))
            if cart.shipping is not None and cart.locale != values["locale"]:
                renamed = self._renamed_shipping(cart, snaps, values["locale"])
            if self.toolbox.db.is_sqlite:
                read = None  # its snapshots are queried on the connection just closed

        def change(conn: Connection, cart: CartRow, catalog: Catalog) -> dict[str, VariantSnapshot]:
            for key in ("locale", "phone", "email"):
                if values.get(key) is not None and values[key] != getattr(cart, key):
                    cart.set(**{key: values[key]})
            if "address" in values:
                cart.set(address=address)
                self._changed(cart)
            elif renamed is not None and cart.shipping is not None \
                    and (cart.shipping.get("provider_id"), cart.shipping.get("option_id")) \
                    == (renamed["provider_id"], renamed["option_id"]):
                cart.set(shipping={**cart.shipping, "name": renamed["name"]})
            return catalog.snapshots(cart_locale(cart.locale))  # in the new locale

        return self._change(cart_id, customer_id, change, read)

    def _renamed_shipping(self, cart: CartRow, snaps: dict[str, VariantSnapshot], locale: str) -> dict[str, Any] | None:
        """The cart's shipping choice named in ``locale`` (its provider's ``quote`` for the cart in
        that locale); ``None`` when the provider does not offer the option any more or fails."""
        shipping = cart.shipping or {}
        provider = self.toolbox.shipping_providers.get(shipping.get("provider_id"))
        if provider is None:
            return None
        try:
            quotes = quotes_of(self.toolbox, provider, replace(cart_view(cart, snaps), locale=locale))
        except Exception:  # the old name stays; the price chosen is unchanged either way
            log.warning("shipping provider %r failed to name its option", shipping.get("provider_id"))
            return None
        quote = next((q for q in quotes if q.option_id == shipping.get("option_id")), None)
        return {**shipping, "name": quote.name} if quote is not None else None

    # -------------------------------------------------------------- shipping
    def view(self, cart_id: str, customer_id: str | None) -> CartView:
        """A read-only snapshot of the cart, lines priced from the catalog now."""
        return self._view(cart_id, customer_id)

    def _view(self, cart_id: str, customer_id: str | None) -> CartView:
        return cart_view(*self._read(cart_id, customer_id))

    def _read(self, cart_id: str, customer_id: str | None) -> tuple[CartRow, dict[str, VariantSnapshot]]:
        """The cart and its lines' snapshots in the cart's locale (one statement on PostgreSQL)."""
        with self._reading() as conn:
            cart, catalog = load_cart(self.toolbox, conn, cart_id, customer_id)
            return cart, catalog.snapshots(cart_locale(cart.locale))

    def shipping_options(self, cart_id: str, customer_id: str | None) -> list[dict[str, Any]]:
        """Options priced by the providers for this cart (called outside any transaction)."""
        view = self._view(cart_id, customer_id)
        return [asdict(q) for q in quote_all(self.toolbox, view)]

    def select_shipping(self, cart_id: str, customer_id: str | None, provider_id: str, option_id: str,
                        data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Price the option on the server (``data``: provider data the provider validates) and keep it."""
        read, snaps = self._read(cart_id, customer_id)
        view = cart_view(read, snaps)
        if not view.lines:
            raise InvalidInput("add items before choosing shipping", code="cart_empty")
        quote: ShippingQuote = quote_one(self.toolbox, view, provider_id, option_id, data)

        def change(conn: Connection, cart: CartRow, catalog: Catalog) -> dict[str, VariantSnapshot]:
            # The lines and address written with the quote must be those it priced; the catalog
            # snapshots read for the quote a moment ago price them (no second read).
            current = cart_view(cart, snaps)
            if current.lines != view.lines or current.address != view.address:
                raise Conflict("the cart changed while shipping was priced; try again", code="cart_changed")
            cart.set(shipping=asdict(quote))
            return snaps

        return self._change(cart_id, customer_id, change, (read, _Known(snaps)))

    # -------------------------------------------------------------- payment
    def select_payment(self, cart_id: str, customer_id: str | None, provider_id: str) -> dict[str, Any]:
        """Open (or switch) the cart's payment session with ``provider_id``."""
        if provider_id not in self.toolbox.payment_providers:
            raise InvalidInput(f"unknown payment provider {provider_id!r}", code="unknown_payment_provider",
                               details={"available": sorted(self.toolbox.payment_providers)})

        def change(conn: Connection, cart: CartRow, catalog: Catalog) -> dict[str, VariantSnapshot]:
            if cart.payment_provider_id != provider_id:
                cart.set(payment_provider_id=provider_id)
            snaps = catalog.snapshots(cart_locale(cart.locale))
            amount = totals(cart, snaps)["total"]
            if cart.payment is None:
                rows.add_payment(cart, new_id("pay"), provider_id, amount, self.toolbox.settings.currency)
            else:
                rows.switch_payment(cart, provider_id, amount)
            return snaps

        return self._change(cart_id, customer_id, change)

    def payment_options(self, cart_id: str, customer_id: str | None) -> list[dict[str, Any]]:
        """The installed payment providers for this cart: ``{id, name, online}``, named in the
        request's ``?locale=``, else the cart's locale (as its ``Content-Language`` says)."""
        with self._reading() as conn:
            locale = cart_locale(load_cart(self.toolbox, conn, cart_id, customer_id)[0].locale)
        default = self.toolbox.settings.default_locale
        return [{"id": provider_id, "name": provider_name(provider, locale, default), "online": bool(provider.online)}
                for provider_id, provider in self.toolbox.payment_providers.items()]


def provider_name(provider: Any, locale: str, default_locale: str) -> str:
    """A provider's ``names[locale]`` (optional attribute), else ``names[default_locale]``, else ``name``."""
    names = getattr(provider, "names", None) or {}
    return names.get(locale) or names.get(default_locale) or provider.name

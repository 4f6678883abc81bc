"""Completing a cart: one workflow with explicit steps and compensation.

Steps (all but the last in ONE database transaction, so a crash anywhere in them leaves no
half order and no leaked reservation — the database rolls everything back):

1. ``validate``  — the cart is open, ours, has items, phone, shipping and a payment session;
2. ``reserve``   — atomic conditional holds on stock (409 ``out_of_stock``);
3. ``create``    — the order, with a sequential number and the prices of this moment;
4. ``attach``    — the cart's payment session becomes the order's payment;
5. ``emit``      — ``order.placed`` in the same transaction (outbox).

The rows every checkout competes for (stock levels, the order counter) are touched last: the
order, its items and the payment link are written first, then stock is held and the number
drawn, so those hot locks are held only for the few statements before COMMIT.

The order is written with core statements (one ``INSERT`` for the order, one for all its items),
not an ORM object graph; on PostgreSQL the number, its history entry and the order's number
column are one statement (:func:`~toolbox_core.orders.service.number_order`). A whole checkout
is 12 statements (``tests/checkout/test_checkout_sql_budget.py`` keeps the budget).

Then, after commit and outside any transaction, ``initiate`` asks the payment provider for the
client's next step. If that fails, the compensation cancels the order (releasing the stock)
and reopens the cart, so the shopper can pick another payment method.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from toolbox_core.asyncutil import resolve
from toolbox_core.cart import rows as cart_rows
from toolbox_core.cart.models import Cart
from toolbox_core.cart.rows import CartRow
from toolbox_core.cart.service import (
    CartCompleted,
    check_usable,
    customer_phone,
    line_view,
    lock_cart,
    snapshots_for,
)
from toolbox_core.catalog.snapshots import VariantSnapshot
from toolbox_core.db.base import utcnow
from toolbox_core.errors import Conflict, InvalidInput, NotFound, ToolboxError
from toolbox_core.events import emit
from toolbox_core.ids import new_id
from toolbox_core.inventory import service as inventory
from toolbox_core.orders.models import Order, OrderItem
from toolbox_core.orders.service import cancel_in_session, lock_order, number_order
from toolbox_core.payments.models import Payment
from toolbox_core.providers import LineView, PaymentAction, PaymentRequest

# Built once: constructing a statement per call costs more CPU than running it.
_LOCK_PAYMENT_SESSION = (select(Payment).where(Payment.cart_id == bindparam("cart_id"), Payment.order_id.is_(None))
                         .with_for_update())
_INSERT_ORDER = insert(Order.__table__)
_INSERT_ITEMS = insert(OrderItem.__table__)


class CheckoutIncomplete(InvalidInput):
    code = "checkout_incomplete"


@dataclass
class CheckoutResult:
    order_id: str
    number: str
    status: str
    payment_id: str
    provider_id: str
    total: int
    action: dict[str, Any] = field(default_factory=dict)


class CheckoutService:
    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    def complete(self, cart_id: str, customer_id: str | None, *, actor: str = "storefront",
                 initiate: bool = True, check_owner: bool = True, return_url: str | None = None) -> CheckoutResult:
        """Turn the cart into an order (see the module doc for the steps)."""
        with self.toolbox.db.transaction() as session:
            result, request = self.complete_in_session(session, cart_id, customer_id, actor=actor,
                                                       check_owner=check_owner, return_url=return_url)
        if initiate:
            result.action = self._initiate(request, result)
        return result

    def complete_in_session(self, session: Session, cart_id: str, customer_id: str | None, *,
                            actor: str = "storefront", check_owner: bool = True,
                            return_url: str | None = None) -> tuple[CheckoutResult, PaymentRequest]:
        """Steps 1–5 inside the caller's transaction; the provider is not asked (that is after commit)."""
        cart = self._validate(session, cart_id, customer_id, check_owner)
        snaps = snapshots_for(self.toolbox, session, cart)
        lines = self._priced_lines(cart, snaps)
        payment = self._payment_session(session, cart)
        provider = self._provider(payment.provider_id)
        order = self._create_order(session, cart, lines, payment, provider)
        self._attach_payment(session, cart, order, payment)
        # Rows every checkout competes for (stock levels, the order counter) are touched
        # last, so their locks are held only from here to COMMIT.
        session.flush()
        inventory.reserve(session, order["id"], self._wanted(lines))
        order["number"] = number_order(session, order["id"], kind="placed", message="order {number} placed",
                                       actor=actor)
        shipping = order["shipping"]
        emit(session, "order.placed", {
            "order_id": order["id"], "number": order["number"], "customer_id": order["customer_id"],
            "phone": order["phone"], "total": order["total"], "currency": order["currency"],
            "status": order["status"], "payment_provider_id": payment.provider_id, "locale": order["locale"],
            "shipping": {"provider_id": shipping.get("provider_id"), "option_id": shipping.get("option_id"),
                         "name": shipping.get("name"), "amount": order["shipping_total"]},
        })
        result = CheckoutResult(order["id"], order["number"], order["status"], payment.id, payment.provider_id,
                                order["total"])
        return result, self._payment_request(order, payment, lines, return_url)

    # -------------------------------------------------------------- steps
    def _validate(self, session: Session, cart_id: str, customer_id: str | None, check_owner: bool) -> CartRow:
        if check_owner:
            cart = lock_cart(session, cart_id, customer_id)
        else:
            cart = cart_rows.load(session, cart_id, lock=True)
            if cart is None:
                raise NotFound("no such cart", code="cart_not_found")
            check_usable(cart, cart.customer_id)
        if not cart.phone and cart.customer_id:  # a cart linked before it took the customer's phone
            cart.set(phone=customer_phone(session, cart.customer_id))
        missing = []
        if not cart.lines:
            missing.append("lines")
        if not cart.phone:
            missing.append("phone")
        if not cart.shipping:
            missing.append("shipping")
        elif cart.shipping.get("requires_address", True) and not cart.address:
            missing.append("address")
        if not cart.payment_provider_id:
            missing.append("payment")
        if missing:
            raise CheckoutIncomplete(f"the cart is missing: {', '.join(missing)}", details={"missing": missing})
        return cart

    @staticmethod
    def _priced_lines(cart: CartRow, snaps: dict[str, VariantSnapshot]) -> list[tuple[LineView, str]]:
        gone = [ln.variant_id for ln in cart.lines if ln.variant_id not in snaps or not snaps[ln.variant_id].published]
        if gone:
            raise Conflict("some items are no longer sold; remove them", code="item_unavailable",
                           details={"variant_ids": gone})
        return [(line_view(ln, snaps[ln.variant_id]), snaps[ln.variant_id].product_id) for ln in cart.lines]

    @staticmethod
    def _wanted(lines: list[tuple[LineView, str]]) -> dict[str, int]:
        wanted: dict[str, int] = {}
        for line, _ in lines:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        return wanted

    @staticmethod
    def _payment_session(session: Session, cart: CartRow) -> Payment:
        payment = session.scalar(_LOCK_PAYMENT_SESSION, {"cart_id": cart.id})
        if payment is None or payment.status != "pending":
            raise CheckoutIncomplete("choose a payment method first", details={"missing": ["payment"]})
        return payment

    def _provider(self, provider_id: str) -> Any:
        provider = self.toolbox.payment_providers.get(provider_id)
        if provider is None:
            raise CheckoutIncomplete(f"payment provider {provider_id!r} is not available; choose another",
                                     details={"missing": ["payment"]})
        return provider

    def _create_order(self, session: Session, cart: CartRow, lines: list[tuple[LineView, str]], payment: Payment,
                      provider: Any) -> dict[str, Any]:
        """Insert the order and its items with the prices of this moment (two statements); its
        number is drawn after stock is held. Returns the order's column values.

        An online order waits ``provider.payment_timeout_seconds`` (when the provider sets it)
        or the ``checkout.payment_timeout_seconds`` setting for its payment.
        """
        online = bool(provider.online)
        timeout = getattr(provider, "payment_timeout_seconds", None) \
            or self.toolbox.settings.checkout.payment_timeout_seconds
        subtotal = sum(line.total for line, _ in lines)
        shipping_total = int(cart.shipping["amount"])
        now = utcnow()
        order: dict[str, Any] = {
            "id": new_id("ord"), "number": None, "cart_id": cart.id, "customer_id": cart.customer_id,
            "status": "pending_payment" if online else "placed", "payment_status": "awaiting",
            "fulfillment_status": "unfulfilled", "locale": cart.locale, "phone": cart.phone, "email": cart.email,
            "address": cart.address, "shipping": self._shipping_at_purchase(cart), "currency": payment.currency,
            "subtotal": subtotal, "shipping_total": shipping_total, "discount_total": 0,
            "total": subtotal + shipping_total, "payment_provider_id": payment.provider_id,
            "payment_expires_at": now + timedelta(seconds=int(timeout)) if online else None,
            "created_at": now, "updated_at": now,
        }
        session.execute(_INSERT_ORDER, order)
        session.execute(_INSERT_ITEMS, [
            {"id": new_id("oitem"), "order_id": order["id"], "position": position, "variant_id": line.variant_id,
             "product_id": product_id, "sku": line.sku, "title": line.title, "quantity": line.quantity,
             "unit_price": line.unit_price, "total": line.total, "weight_grams": line.weight_grams or 0,
             "mxik_code": line.mxik_code, "package_code": line.package_code, "vat_percent": line.vat_percent}
            for position, (line, product_id) in enumerate(lines)
        ])
        return order

    def _shipping_at_purchase(self, cart: CartRow) -> dict[str, Any]:
        """The chosen option, plus the delivery service's fiscal codes of this moment (for receipts)."""
        checkout = self.toolbox.settings.checkout
        return {**cart.shipping, "fiscal": {"mxik_code": checkout.shipping_mxik_code,
                                            "package_code": checkout.shipping_package_code,
                                            "vat_percent": checkout.shipping_vat_percent}}

    @staticmethod
    def _attach_payment(session: Session, cart: CartRow, order: dict[str, Any], payment: Payment) -> None:
        """The payment session becomes the order's (ORM: a gateway workflow may hold it in this
        session) and the cart is completed (one core ``UPDATE`` with any change made under the lock)."""
        payment.order_id = order["id"]
        payment.amount = order["total"]
        cart.set(status="completed", order_id=order["id"], completed_at=utcnow())
        cart_rows.save(session, cart)

    def _payment_request(self, order: dict[str, Any], payment: Payment, lines: list[tuple[LineView, str]],
                         return_url: str | None) -> PaymentRequest:
        return PaymentRequest(payment_id=payment.id, order_id=order["id"], order_number=order["number"],
                              amount=order["total"], currency=order["currency"], locale=order["locale"],
                              lines=tuple(line for line, _ in lines), shipping_amount=order["shipping_total"],
                              phone=order["phone"], return_url=return_url)

    # -------------------------------------------------------------- after commit
    def _initiate(self, request: PaymentRequest, result: CheckoutResult) -> dict[str, Any]:
        """Ask the provider for the client's next step; on failure, undo the order."""
        provider = self._provider(result.provider_id)
        try:
            action = asdict(resolve(provider.initiate(request)))
        except Exception as exc:
            self._compensate(result.order_id, reason=f"payment initiation failed: {type(exc).__name__}")
            raise ToolboxError("the payment provider is unavailable; choose another payment method",
                               code="payment_provider_error", status=502,
                               details={"provider_id": result.provider_id}) from exc
        if action["kind"] != "none":  # nothing to remember for pay-on-delivery
            with self.toolbox.db.transaction() as session:
                payment = session.get(Payment, request.payment_id)
                if payment is not None:
                    payment.action = action
        return action

    def _compensate(self, order_id: str, *, reason: str) -> None:
        """Undo a placed order whose payment could not start: cancel it, release stock, reopen the cart."""
        with self.toolbox.db.transaction() as session:
            order, payment = lock_order(session, order_id)
            if order.status not in ("pending_payment", "placed") or order.payment_status != "awaiting":
                return
            cancel_in_session(session, order, payment, reason=reason, actor="system")
            cart = session.scalar(select(Cart).where(Cart.id == order.cart_id).with_for_update())
            if cart is not None:
                cart.status = "open"
                cart.order_id = None
                cart.completed_at = None

    # -------------------------------------------------------------- retried complete
    def completed(self, cart_id: str, customer_id: str | None) -> CheckoutResult:
        """The order a completed cart became, as :meth:`complete` answered it (for a retried complete).

        Ownership is checked as for an open cart; a cart that is not completed raises its usual
        error (``cart_not_completed`` when it is open). While the first request is still asking
        the gateway for its next step, 409 ``checkout_in_progress`` (retry in a moment).
        """
        with self.toolbox.db.session() as session:
            order, payment = _completed_order(session, cart_id, customer_id)
            return completed_result(order, payment, self._online(payment.provider_id))

    def completed_order(self, cart_id: str, customer_id: str | None) -> dict[str, Any]:
        """``{id, number, status}`` of the order a completed cart became (same checks as :meth:`completed`)."""
        with self.toolbox.db.session() as session:
            order, _ = _completed_order(session, cart_id, customer_id)
            return {"id": order.id, "number": order.number, "status": order.status}

    def _online(self, provider_id: str) -> bool:
        provider = self.toolbox.payment_providers.get(provider_id)
        return bool(provider is not None and provider.online)


def _completed_order(session: Session, cart_id: str, customer_id: str | None) -> tuple[Order, Payment]:
    cart = session.get(Cart, cart_id)
    if cart is None:
        raise NotFound("no such cart", code="cart_not_found", details={"cart_id": cart_id})
    try:
        check_usable(cart, customer_id)  # another customer's cart, an expired one: its error
    except CartCompleted:
        pass
    else:
        raise Conflict("this cart has not been completed", code="cart_not_completed", details={"cart_id": cart_id})
    order = session.get(Order, cart.order_id) if cart.order_id else None
    payment = session.scalar(select(Payment).where(Payment.order_id == order.id)) if order else None
    if order is None or payment is None:
        raise NotFound("the cart's order is gone", code="order_not_found", details={"cart_id": cart_id})
    return order, payment


def completed_result(order: Order, payment: Payment, online: bool) -> CheckoutResult:
    """The :class:`CheckoutResult` of an order already placed (its current status, the stored action)."""
    action = payment.action
    if action is None:
        if online:  # the first request has not stored the gateway's next step yet
            raise Conflict("the order is being placed; retry in a moment", code="checkout_in_progress",
                           details={"order_id": order.id})
        action = asdict(PaymentAction(kind="none"))
    return CheckoutResult(order.id, order.number or "", order.status, payment.id, payment.provider_id, order.total,
                          action=dict(action))

"""Order changes that involve the payment provider: cancel (with refund) and partial refunds.

How money goes back depends on the provider's ``refund_capability``:

* ``"api"`` (the default): the kernel asks the provider (outside any transaction) and records it;
* ``"gateway_initiated"`` (Payme: refunds start in the merchant cabinet, then Payme calls back)
  or ``"manual"`` (cash, bank transfer): the kernel records a **refund request** — the payment
  becomes ``refund_pending``, the order history says who asked for how much, and
  ``payment.refund_requested`` is emitted. The gateway's later report (``refund_in_session``)
  completes it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolbox_core.errors import Conflict, NotFound
from toolbox_core.orders.models import Order
from toolbox_core.orders.service import (
    OrderService,
    cancel_in_session,
    check_cancellable,
    lock_order,
    payment_of,
)
from toolbox_core.payments.models import Payment, PaymentTransaction
from toolbox_core.workflows.payments import AmountMismatch, PaymentService, refund_capability


class OrderWorkflow:
    """Admin order changes that reach the payment provider."""

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox
        self.orders = OrderService(toolbox)
        self.payments = PaymentService(toolbox)

    def cancel(self, order_id: str, *, actor: str, reason: str = "canceled by staff") -> dict[str, Any]:
        """Cancel; a paid order is refunded through its provider first, or a refund is requested."""
        with self.toolbox.db.session() as session:
            order = session.get(Order, order_id)
            if order is None:
                raise NotFound("no such order", code="order_not_found")
            payment = payment_of(session, order_id)
            check_cancellable(order)
        if payment is not None and payment.status in ("refunding", "refund_pending"):
            raise Conflict("a refund of this order is in progress", code="refund_in_progress")
        refunded = False
        via_api = payment is not None and self._capability(payment) == "api"
        if payment is not None and payment.status == "captured" and via_api:
            self.payments.refund_through_provider(payment.id, actor=actor, reason=reason)
            refunded = True
        with self.toolbox.db.transaction() as session:
            order, payment = lock_order(session, order_id)
            check_cancellable(order)
            if payment is not None and payment.status in ("captured", "refund_required") and not refunded:
                if via_api and payment.status == "captured":
                    raise Conflict("the payment changed meanwhile; try again", code="payment_changed")
                self.payments.request_refund_in_session(
                    session, payment, order, amount=payment.captured_amount - payment.refunded_amount,
                    reason=reason, actor=actor)
            cancel_in_session(session, order, payment, reason=reason, actor=actor, refunded=refunded)
        return self.orders.get(order_id, admin=True)

    def refund(self, order_id: str, *, amount: int, actor: str, reason: str = "refund",
               request_key: str | None = None) -> dict[str, Any]:
        """Return ``amount`` tiyin of a paid order (partial or whole); the order stays as it is.

        ``request_key`` (an ``Idempotency-Key``) makes a repeated request return the first
        outcome instead of refunding twice.
        """
        payment = self._payment(order_id)
        if request_key and self._seen(payment, request_key):
            return self._answer(order_id, replayed=True)
        refundable = payment.captured_amount - payment.refunded_amount
        if payment.status in ("refunding", "refund_pending"):
            raise Conflict("a refund of this order is in progress", code="refund_in_progress")
        if payment.status not in ("captured", "refund_required"):
            raise Conflict(f"a {payment.status} payment cannot be refunded", code="payment_not_refundable",
                           details={"status": payment.status})
        if amount > refundable:
            raise AmountMismatch(f"at most {refundable} tiyin can be refunded", details={"refundable": refundable})
        if self._capability(payment) == "api":
            self.payments.refund_through_provider(payment.id, actor=actor, amount=amount, reason=reason,
                                                  request_key=request_key)
        else:
            with self.toolbox.db.transaction() as session:
                order, locked = lock_order(session, order_id)
                if locked is None:
                    raise NotFound("this order has no payment", code="payment_not_found")
                self.payments.request_refund_in_session(session, locked, order, amount=amount, reason=reason,
                                                        actor=actor, request_key=request_key)
        return self._answer(order_id, replayed=False)

    # -------------------------------------------------------------- helpers
    def _payment(self, order_id: str) -> Payment:
        with self.toolbox.db.session() as session:
            if session.get(Order, order_id) is None:
                raise NotFound("no such order", code="order_not_found")
            payment = payment_of(session, order_id)
            if payment is None:
                raise NotFound("this order has no payment", code="payment_not_found")
            return payment

    def _capability(self, payment: Payment) -> str:
        return refund_capability(self.toolbox.payment_providers.get(payment.provider_id))

    def _seen(self, payment: Payment, request_key: str) -> bool:
        with self.toolbox.db.session() as session:
            return _request_row(session, payment, request_key) is not None

    def _answer(self, order_id: str, *, replayed: bool) -> dict[str, Any]:
        order = self.orders.get(order_id, admin=True)
        return {**order, "replayed": replayed}


def _request_row(session: Session, payment: Payment, request_key: str) -> PaymentTransaction | None:
    """The row a refund keyed ``request_key`` left on ``payment``: the refund recorded after the
    provider returned the money, or the refund request of a gateway that cannot refund by API."""
    return session.scalar(select(PaymentTransaction).where(
        PaymentTransaction.payment_id == payment.id,
        PaymentTransaction.gateway_transaction_id.in_((f"refund:{payment.id}:{request_key}",
                                                       f"request:{payment.id}:{request_key}")),
    ).limit(1))

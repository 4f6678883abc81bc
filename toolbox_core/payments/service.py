"""The kernel payment service: the one way gateways report what happened to a payment.

Gateway plugins (Payme, Click, ...) call :class:`PaymentService` from their callback routes::

    result = PaymentService(toolbox).capture("payme", payment_id, gateway_transaction_id=tx,
                                              amount=amount)

Guarantees:

* **Idempotent** on ``(provider, gateway transaction id, kind)``: a repeated report returns the
  stored result (``replayed=True``) and changes nothing.
* **Checked**: amount and currency must equal the order's; a state that does not allow the
  operation is a 409 with a clear code (``payment_canceled``, ``payment_already_captured``...).
* **Recorded**: every accepted operation is a :class:`PaymentTransaction` row.
* **Race-free**: the payment row is locked for the whole change. A capture reported for a
  cart that the storefront has not completed yet completes it first, so a callback racing the
  storefront's own ``complete`` still yields one order, one capture, one ``payment.captured``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from toolbox_core.asyncutil import resolve
from toolbox_core.errors import Conflict, InvalidInput, NotFound, ToolboxError
from toolbox_core.events import emit
from toolbox_core.ids import new_id
from toolbox_core.inventory import service as inventory
from toolbox_core.orders.models import Order
from toolbox_core.orders.service import cancel_in_session, note
from toolbox_core.payments.models import Payment, PaymentTransaction


class AmountMismatch(InvalidInput):
    code = "amount_mismatch"


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"


class PaymentStateConflict(Conflict):
    code = "invalid_payment_state"


@dataclass(frozen=True)
class TransactionResult:
    """What a gateway report did (or had already done, when ``replayed``)."""

    transaction_id: str
    payment_id: str
    order_id: str | None
    kind: str
    payment_status: str
    amount: int
    created_at: datetime
    replayed: bool = False


@dataclass(frozen=True)
class PaymentInfo:
    """A payment as gateways need it to answer pre-checks (Payme's CheckPerformTransaction)."""

    id: str
    provider_id: str
    status: str
    amount: int
    currency: str
    cart_id: str
    order_id: str | None
    order_number: str | None
    order_status: str | None
    created_at: datetime


def _transaction_result(tx: PaymentTransaction, payment: Payment, replayed: bool) -> TransactionResult:
    return TransactionResult(tx.id, payment.id, payment.order_id, tx.kind, payment.status, tx.amount,
                             tx.created_at, replayed)


def _payment_info(session: Session, payment: Payment) -> PaymentInfo:
    order = session.get(Order, payment.order_id) if payment.order_id else None
    return PaymentInfo(payment.id, payment.provider_id, payment.status, payment.amount, payment.currency,
                       payment.cart_id, payment.order_id, order.number if order else None,
                       order.status if order else None, payment.created_at)


def capture_cash_in_session(session: Session, order: Order, payment: Payment, *, actor: str) -> None:
    """Cash collected by the courier: record the capture of a pay-on-delivery payment."""
    tx = PaymentTransaction(id=new_id("ptx"), payment_id=payment.id, provider_id=payment.provider_id,
                            gateway_transaction_id=f"cash:{order.id}", kind="capture", amount=payment.amount,
                            currency=payment.currency, data={"actor": actor})
    session.add(tx)
    payment.status = "captured"
    payment.captured_amount = payment.amount
    order.payment_status = "paid"
    note(order, "payment_captured", "cash collected", actor)
    emit(session, "payment.captured", {"order_id": order.id, "payment_id": payment.id,
                                       "provider_id": payment.provider_id, "amount": payment.amount})


class PaymentService:
    """Authorize / capture / cancel / refund reports from gateways, checked and idempotent."""

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    # -------------------------------------------------------------- reads
    def get(self, payment_id: str) -> PaymentInfo:
        with self.toolbox.db.session() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise NotFound("no such payment", code="payment_not_found")
            return _payment_info(session, payment)

    def for_order(self, order_id: str) -> PaymentInfo:
        with self.toolbox.db.session() as session:
            payment = session.scalar(select(Payment).where(Payment.order_id == order_id))
            if payment is None:
                raise NotFound("no payment for this order", code="payment_not_found")
            return _payment_info(session, payment)

    # -------------------------------------------------------------- reports
    def authorize(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
                  currency: str = "UZS", data: dict[str, Any] | None = None) -> TransactionResult:
        """Money is held at the gateway (not yet taken)."""
        self._ensure_order(payment_id)
        return self._report("authorize", provider_id, payment_id, gateway_transaction_id, amount, currency, data)

    def capture(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
                currency: str = "UZS", data: dict[str, Any] | None = None) -> TransactionResult:
        """Money is taken: the order becomes paid, held stock is sold, ``payment.captured`` is emitted."""
        self._ensure_order(payment_id)
        return self._report("capture", provider_id, payment_id, gateway_transaction_id, amount, currency, data)

    def cancel(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str,
               reason: str = "canceled at gateway", data: dict[str, Any] | None = None) -> TransactionResult:
        """The payment will not happen: the order is canceled and its stock released."""
        payload = {"reason": reason, **(data or {})}
        return self._report("cancel", provider_id, payment_id, gateway_transaction_id, None, None, payload)

    def refund(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
               currency: str = "UZS", data: dict[str, Any] | None = None) -> TransactionResult:
        """A captured payment was returned (e.g. Payme's CancelTransaction on a performed one)."""
        return self._report("refund", provider_id, payment_id, gateway_transaction_id, amount, currency, data)

    def refund_through_provider(self, payment_id: str, *, actor: str) -> TransactionResult:
        """Ask the provider to refund a captured payment in full (outside any transaction), then record it.

        The refund is claimed first (``captured`` → ``refunding`` by a conditional update), so two
        concurrent callers (two admins canceling the same paid order) never both ask the provider.
        """
        info = self.get(payment_id)
        provider = self.toolbox.payment_providers.get(info.provider_id)
        if provider is None:
            raise ToolboxError(f"payment provider {info.provider_id!r} is not enabled", code="provider_unavailable",
                               status=502)
        self._claim_refund(payment_id)
        try:
            try:
                outcome = resolve(provider.refund(payment_id, info.amount))
            except Exception as exc:
                raise ToolboxError("the payment provider failed to refund", code="refund_failed",
                                   status=502) from exc
            if not outcome.succeeded:
                raise ToolboxError(outcome.message or "the payment provider refused the refund",
                                   code="refund_failed", status=502)
        except ToolboxError:
            self._set_status(payment_id, "refunding", "captured")
            raise
        gateway_id = outcome.gateway_transaction_id or f"refund:{payment_id}"
        return self._report("refund", info.provider_id, payment_id, gateway_id, info.amount, info.currency,
                            {"actor": actor}, cancel_order=False)

    def _claim_refund(self, payment_id: str) -> None:
        """Move a captured payment to ``refunding``; a 409 when it is not (or no longer) captured."""
        if not self._set_status(payment_id, "captured", "refunding"):
            status = self.get(payment_id).status
            raise PaymentStateConflict(f"a {status} payment cannot be refunded",
                                       code="refund_in_progress" if status == "refunding" else None,
                                       details={"status": status})

    def _set_status(self, payment_id: str, expected: str, new: str) -> bool:
        """Conditional status change in its own short transaction; True when this caller made it."""
        with self.toolbox.db.transaction() as session:
            changed = session.execute(update(Payment).where(Payment.id == payment_id, Payment.status == expected)
                                      .values(status=new))
            return changed.rowcount == 1

    # -------------------------------------------------------------- internals
    def _ensure_order(self, payment_id: str) -> None:
        """A gateway reported before the storefront completed the cart: complete it now."""
        info = self.get(payment_id)
        if info.order_id is not None:
            return
        from toolbox_core.checkout.service import CheckoutService

        try:
            CheckoutService(self.toolbox).complete(info.cart_id, customer_id=None, actor="gateway",
                                                   initiate=False, check_owner=False)
        except Conflict as exc:
            if exc.code != "cart_completed":
                raise

    def _report(self, kind: str, provider_id: str, payment_id: str, gateway_transaction_id: str,
                amount: int | None, currency: str | None, data: dict[str, Any] | None,
                *, cancel_order: bool = True) -> TransactionResult:
        if not gateway_transaction_id or len(gateway_transaction_id) > 128:
            raise InvalidInput("gateway_transaction_id is required (at most 128 characters)",
                               code="invalid_gateway_transaction_id")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
            raise InvalidInput("amount must be a positive integer number of tiyin", code="invalid_amount")
        with self.toolbox.db.transaction() as session:
            payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
            if payment is None:
                raise NotFound("no such payment", code="payment_not_found")
            if payment.provider_id != provider_id:
                raise Conflict("this payment belongs to another provider", code="provider_mismatch")
            seen = session.scalar(select(PaymentTransaction).where(
                PaymentTransaction.provider_id == provider_id,
                PaymentTransaction.gateway_transaction_id == gateway_transaction_id,
                PaymentTransaction.kind == kind,
            ))
            if seen is not None:
                if seen.payment_id != payment.id:
                    raise Conflict("this gateway transaction belongs to another payment",
                                   code="gateway_transaction_conflict")
                return _transaction_result(seen, payment, replayed=True)
            if currency is not None and currency != payment.currency:
                raise CurrencyMismatch(f"currency must be {payment.currency}",
                                       details={"expected": payment.currency, "got": currency})
            order = session.scalar(select(Order).where(Order.id == payment.order_id).with_for_update()) \
                if payment.order_id else None
            getattr(self, f"_apply_{kind}")(session, payment, order, amount, cancel_order=cancel_order)
            tx = PaymentTransaction(id=new_id("ptx"), payment_id=payment.id, provider_id=provider_id,
                                    gateway_transaction_id=gateway_transaction_id, kind=kind,
                                    amount=amount if amount is not None else payment.amount,
                                    currency=payment.currency, data=data or {})
            session.add(tx)
            session.flush()
            return _transaction_result(tx, payment, replayed=False)

    @staticmethod
    def _check_amount(payment: Payment, amount: int | None) -> None:
        if amount != payment.amount:
            raise AmountMismatch(f"amount must be {payment.amount} tiyin",
                                 details={"expected": payment.amount, "got": amount})

    @staticmethod
    def _require_order(order: Order | None) -> Order:
        if order is None:
            raise Conflict("the payment has no order yet", code="payment_without_order")
        return order

    def _apply_authorize(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                         **_: Any) -> None:
        order = self._require_order(order)
        self._check_amount(payment, amount)
        if payment.status != "pending":
            raise self._state_error(payment)
        payment.status = "authorized"
        order.payment_status = "authorized"
        note(order, "payment_authorized", f"{payment.provider_id}")
        emit(session, "payment.authorized", {"order_id": order.id, "payment_id": payment.id,
                                             "provider_id": payment.provider_id, "amount": payment.amount})

    def _apply_capture(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                       **_: Any) -> None:
        order = self._require_order(order)
        self._check_amount(payment, amount)
        if payment.status not in ("pending", "authorized") or order.status == "canceled":
            raise self._state_error(payment)
        payment.status = "captured"
        payment.captured_amount = payment.amount
        order.payment_status = "paid"
        if order.status == "pending_payment":
            order.status = "placed"
            order.payment_expires_at = None
        inventory.convert(session, order.id)
        note(order, "payment_captured", f"{payment.provider_id}")
        emit(session, "payment.captured", {"order_id": order.id, "payment_id": payment.id,
                                           "provider_id": payment.provider_id, "amount": payment.amount})

    def _apply_cancel(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                      **_: Any) -> None:
        if payment.status not in ("pending", "authorized"):
            raise self._state_error(payment)
        payment.status = "canceled"
        if order is not None:
            cancel_in_session(session, order, payment, reason="payment canceled at gateway", actor=payment.provider_id)
        emit(session, "payment.canceled", {"order_id": payment.order_id, "payment_id": payment.id,
                                           "provider_id": payment.provider_id})

    def _apply_refund(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                      *, cancel_order: bool = True) -> None:
        if payment.status not in ("captured", "refunding"):
            raise self._state_error(payment)
        if amount is None or amount > payment.captured_amount - payment.refunded_amount:
            raise AmountMismatch("refund exceeds the captured amount",
                                 details={"refundable": payment.captured_amount - payment.refunded_amount})
        payment.refunded_amount += amount
        payment.status = "refunded" if payment.refunded_amount == payment.captured_amount else "captured"
        if order is not None:
            order.payment_status = "refunded" if payment.status == "refunded" else order.payment_status
            note(order, "payment_refunded", f"{amount} tiyin")
            if cancel_order and payment.status == "refunded" and order.status not in ("canceled", "completed"):
                cancel_in_session(session, order, payment, reason="payment refunded", actor=payment.provider_id,
                                  refunded=True)
        emit(session, "payment.refunded", {"order_id": payment.order_id, "payment_id": payment.id,
                                           "provider_id": payment.provider_id, "amount": amount})

    @staticmethod
    def _state_error(payment: Payment) -> Conflict:
        codes = {"captured": "payment_already_captured", "canceled": "payment_canceled",
                 "refunded": "payment_refunded", "refunding": "refund_in_progress"}
        return Conflict(f"the payment is {payment.status}", code=codes.get(payment.status, "invalid_payment_state"),
                        details={"status": payment.status})

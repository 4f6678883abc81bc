"""The kernel payment service: the one way gateways report what happened to a payment.

Gateway plugins (Payme, Click, ...) call :class:`PaymentService` from their callback routes::

    result = PaymentService(toolbox).capture("payme", payment_id, gateway_transaction_id=tx,
                                              amount=amount)

or, when the plugin already holds a transaction with its own rows locked, the ``*_in_session``
variants, so the plugin's row and the kernel's payment change commit (or roll back) together::

    with toolbox.db.transaction() as session:
        ...lock and update the plugin's own transaction row...
        PaymentService(toolbox).capture_in_session(session, "payme", payment_id, ...)

Guarantees:

* **Idempotent** on ``(provider, gateway transaction id, kind)``: a repeated report returns the
  stored result (``replayed=True``) and changes nothing.
* **Checked**: amount and currency must equal the order's; a state that does not allow the
  operation is a 409 with a clear code (``payment_canceled``, ``payment_already_captured``...).
* **Never loses money**: a capture reported after the order was canceled (stock released) is
  recorded, with the payment ``refund_required`` and ``payment.refund_required`` emitted.
* **Recorded**: every accepted operation is a :class:`PaymentTransaction` row.
* **Race-free**: the payment row, then the order row, is locked for the whole change. A capture
  reported for a cart that the storefront has not completed yet completes it first, so a
  callback racing the storefront's own ``complete`` still yields one order, one capture, one
  ``payment.captured``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from toolbox_core.asyncutil import resolve
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.db.base import utcnow
from toolbox_core.errors import Conflict, InvalidInput, NotFound, ToolboxError
from toolbox_core.events import EMITTED_KEY, emit
from toolbox_core.ids import new_id
from toolbox_core.inventory import service as inventory
from toolbox_core.orders.models import Order
from toolbox_core.orders.service import cancel_in_session, held_locks, note, payment_event
from toolbox_core.payments.models import Payment, PaymentTransaction
from toolbox_core.payments.views import (
    PaymentInfo,
    TransactionResult,
    payment_info,
    transaction_result,
)
from toolbox_core.schemas import iso_utc

__all__ = ["AmountMismatch", "CurrencyMismatch", "PaymentInfo", "PaymentService", "PaymentStateConflict",
           "TransactionResult", "refund_capability"]

#: Statuses from which money can still be returned.
REFUNDABLE = ("captured", "refunding", "refund_pending", "refund_required")


class AmountMismatch(InvalidInput):
    code = "amount_mismatch"


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"


class PaymentStateConflict(Conflict):
    code = "invalid_payment_state"


def refund_capability(provider: Any) -> str:
    """``"api"`` (the kernel asks the provider), ``"gateway_initiated"`` or ``"manual"``."""
    capability = getattr(provider, "refund_capability", None) or "api"
    return capability if capability in ("api", "gateway_initiated", "manual") else "api"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# The hot path of a gateway callback in core statements, built once (their compiled forms are
# cached): the idempotency read, the transaction row, and the changes of the locked rows.
_TX = PaymentTransaction.__table__
_SEEN = select(_TX.c.id, _TX.c.payment_id, _TX.c.kind, _TX.c.amount, _TX.c.created_at, _TX.c.data).where(
    _TX.c.provider_id == bindparam("b_provider"), _TX.c.gateway_transaction_id == bindparam("b_gateway"),
    _TX.c.kind == bindparam("b_kind"))
_INSERT_TX = insert(_TX)
_UPDATE_ROW = {table: update(table).where(table.c.id == bindparam("b_id"))
               for table in (Payment.__table__, Order.__table__)}


def _write(session: Session, row: Payment | Order, **values: Any) -> None:
    """Store ``values`` on the locked ``row`` with one core UPDATE, and on the object as its
    committed state (nothing left for the unit of work to flush)."""
    values["updated_at"] = utcnow()
    session.connection().execute(_UPDATE_ROW[type(row).__table__], {"b_id": row.id, **values})
    for key, value in values.items():
        set_committed_value(row, key, value)


#: One PostgreSQL statement per shape of :class:`_Writes` (which payment and order columns change).
_COMBINED: dict[tuple[tuple[str, ...], tuple[str, ...]], Any] = {}


def _combined(payment_keys: tuple[str, ...], order_keys: tuple[str, ...]) -> Any:
    """The payment and order updates, the history entry, the outbox row and the transaction row
    as one statement (data-modifying CTEs: one round trip; every part sees the same snapshot,
    and the rows are locked by this transaction already)."""
    stmt = _COMBINED.get((payment_keys, order_keys))
    if stmt is None:
        sets = lambda prefix, keys: ", ".join(f"{k} = :{prefix}{k}" for k in keys)  # noqa: E731
        stmt = text(
            f"WITH p AS (UPDATE payments SET {sets('p_', payment_keys)}, updated_at = :at WHERE id = :p_id),"
            f" o AS (UPDATE orders SET {sets('o_', order_keys)}, updated_at = :at WHERE id = :o_id),"
            " h AS (INSERT INTO order_history (order_id, at, kind, message, actor)"
            " VALUES (:o_id, :at, :h_kind, :h_message, :h_actor)),"
            " e AS (INSERT INTO outbox_events (id, name, version, payload, occurred_at)"
            " VALUES (:e_id, :e_name, 1, :e_payload, :at))"
            " INSERT INTO payment_transactions (id, payment_id, provider_id, gateway_transaction_id, kind, amount,"
            " currency, data, created_at) VALUES (:t_id, :t_payment_id, :t_provider_id, :t_gateway_transaction_id,"
            " :t_kind, :t_amount, :t_currency, :t_data, :at)"
        ).bindparams(bindparam("e_payload", type_=JSONB()), bindparam("t_data", type_=JSONB()))
        _COMBINED[(payment_keys, order_keys)] = stmt
    return stmt


@dataclass
class _Writes:
    """What an authorize or capture changes, written with its transaction row by :meth:`write`:
    one statement on PostgreSQL, one per row elsewhere (or when the order's history is loaded)."""

    payment: dict[str, Any] = field(default_factory=dict)
    order: dict[str, Any] = field(default_factory=dict)
    #: (kind, message, actor) of the order history entry.
    note: tuple[str, str, str] | None = None
    #: (name, payload) of the event.
    event: tuple[str, dict[str, Any]] | None = None

    def emit(self, session: Session, name: str, payload: dict[str, Any]) -> None:
        """Like :func:`~toolbox_core.events.emit` (same call shape, so the registry test checks the
        name), written by :meth:`write`."""
        self.event = (name, payload)

    def write(self, session: Session, payment: Payment, order: Order, tx: dict[str, Any]) -> None:
        state = sa_inspect(order)
        if self.note is None or self.event is None or not self.payment or not self.order \
                or session.get_bind().dialect.name != "postgresql" \
                or not state.persistent or "history" not in state.unloaded:
            self._one_by_one(session, payment, order, tx)
            return
        at = tx["created_at"]
        params: dict[str, Any] = {"at": at, "p_id": payment.id, "o_id": order.id,
                                  "h_kind": self.note[0], "h_message": self.note[1], "h_actor": self.note[2],
                                  "e_id": new_id("evt"), "e_name": self.event[0], "e_payload": self.event[1]}
        params.update({f"p_{k}": v for k, v in self.payment.items()})
        params.update({f"o_{k}": v for k, v in self.order.items()})
        params.update({f"t_{k}": v for k, v in tx.items() if k != "created_at"})
        session.connection().execute(_combined(tuple(self.payment), tuple(self.order)), params)
        session.info[EMITTED_KEY] = True
        for row, values in ((payment, self.payment), (order, self.order)):
            for key, value in {**values, "updated_at": at}.items():
                set_committed_value(row, key, value)

    def _one_by_one(self, session: Session, payment: Payment, order: Order, tx: dict[str, Any]) -> None:
        if self.payment:
            _write(session, payment, **self.payment)
        if self.order:
            _write(session, order, **self.order)
        if self.note is not None:
            note(order, *self.note)
        if self.event is not None:  # its name was checked where writes.emit() was called
            emit(session, name=self.event[0], payload=self.event[1])
        session.flush()  # a note appended to a loaded history
        session.connection().execute(_INSERT_TX, tx)


def _info(session: Session, payment: Payment) -> PaymentInfo:
    order = session.get(Order, payment.order_id) if payment.order_id else None
    return payment_info(payment, order.number if order else None, order.status if order else None)


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
            return _info(session, payment)

    def for_order(self, order_id: str) -> PaymentInfo:
        with self.toolbox.db.session() as session:
            payment = session.scalar(select(Payment).where(Payment.order_id == order_id))
            if payment is None:
                raise NotFound("no payment for this order", code="payment_not_found")
            return _info(session, payment)

    def for_order_number(self, number: str) -> PaymentInfo:
        """The payment of the order the customer knows as ``number`` (``"1001"``).

        404 ``order_not_found`` when there is no such order, ``payment_not_found`` when it has
        no payment.
        """
        if not isinstance(number, str) or not number or len(number) > 20:
            raise NotFound("no such order", code="order_not_found")
        with self.toolbox.db.session() as session:
            order = session.scalar(select(Order).where(Order.number == number))
            if order is None:
                raise NotFound("no such order", code="order_not_found")
            payment = session.scalar(select(Payment).where(Payment.order_id == order.id))
            if payment is None:
                raise NotFound("no payment for this order", code="payment_not_found")
            return payment_info(payment, order.number, order.status)

    # -------------------------------------------------------------- reports (own transaction)
    def authorize(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
                  currency: str = "UZS", hold_until: datetime | None = None,
                  data: dict[str, Any] | None = None) -> TransactionResult:
        """Money is held at the gateway (not yet taken); see :meth:`authorize_in_session`."""
        self._ensure_order(payment_id)
        with self.toolbox.db.transaction() as session:
            return self.authorize_in_session(session, provider_id, payment_id,
                                             gateway_transaction_id=gateway_transaction_id, amount=amount,
                                             currency=currency, hold_until=hold_until, data=data)

    def capture(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
                currency: str = "UZS", data: dict[str, Any] | None = None) -> TransactionResult:
        """Money is taken; see :meth:`capture_in_session`."""
        self._ensure_order(payment_id)
        with self.toolbox.db.transaction() as session:
            return self.capture_in_session(session, provider_id, payment_id,
                                           gateway_transaction_id=gateway_transaction_id, amount=amount,
                                           currency=currency, data=data)

    def cancel(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str,
               reason: str = "canceled at gateway", data: dict[str, Any] | None = None) -> TransactionResult:
        """The payment will not happen; see :meth:`cancel_in_session`."""
        with self.toolbox.db.transaction() as session:
            return self.cancel_in_session(session, provider_id, payment_id,
                                          gateway_transaction_id=gateway_transaction_id, reason=reason, data=data)

    def refund(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
               currency: str = "UZS", data: dict[str, Any] | None = None) -> TransactionResult:
        """Money was returned at the gateway; see :meth:`refund_in_session`."""
        with self.toolbox.db.transaction() as session:
            return self.refund_in_session(session, provider_id, payment_id,
                                          gateway_transaction_id=gateway_transaction_id, amount=amount,
                                          currency=currency, data=data)

    # -------------------------------------------------------------- reports (caller's transaction)
    def authorize_in_session(self, session: Session, provider_id: str, payment_id: str, *,
                             gateway_transaction_id: str, amount: int, currency: str = "UZS",
                             hold_until: datetime | None = None,
                             data: dict[str, Any] | None = None) -> TransactionResult:
        """Money is held at the gateway, inside the caller's transaction.

        ``hold_until``: the gateway may still take the money until then (Payme: its ``time`` +
        12 h), so the payment-timeout job leaves the order alone until that moment.
        """
        self._ensure_order_in_session(session, payment_id)
        extra = {"hold_until": iso_utc(hold_until)} if hold_until else {}
        return self._report(session, "authorize", provider_id, payment_id, gateway_transaction_id, amount,
                            currency, {**(data or {}), **extra}, hold_until=hold_until)

    def capture_in_session(self, session: Session, provider_id: str, payment_id: str, *,
                           gateway_transaction_id: str, amount: int, currency: str = "UZS",
                           data: dict[str, Any] | None = None) -> TransactionResult:
        """Money is taken: the order becomes paid, held stock is sold, ``payment.captured`` is emitted.

        After the order was canceled it is a late capture: recorded, ``refund_required``.
        """
        self._ensure_order_in_session(session, payment_id)
        return self._report(session, "capture", provider_id, payment_id, gateway_transaction_id, amount,
                            currency, data)

    def cancel_in_session(self, session: Session, provider_id: str, payment_id: str, *,
                          gateway_transaction_id: str, reason: str = "canceled at gateway",
                          data: dict[str, Any] | None = None) -> TransactionResult:
        """The payment will not happen: the order is canceled and its stock released."""
        payload = {"reason": str(reason)[:500], **(data or {})}
        return self._report(session, "cancel", provider_id, payment_id, gateway_transaction_id, None, None,
                            payload)

    def refund_in_session(self, session: Session, provider_id: str, payment_id: str, *,
                          gateway_transaction_id: str, amount: int, currency: str = "UZS",
                          data: dict[str, Any] | None = None) -> TransactionResult:
        """A captured payment was returned at the gateway (Payme's CancelTransaction of a performed one).

        A full refund cancels the order (restocking it) unless it is already canceled or completed.
        """
        return self._report(session, "refund", provider_id, payment_id, gateway_transaction_id, amount,
                            currency, data)

    # -------------------------------------------------------------- kernel-initiated refunds
    def refund_through_provider(self, payment_id: str, *, actor: str, amount: int | None = None,
                                reason: str = "refund", request_key: str | None = None) -> TransactionResult:
        """Ask the provider to refund (outside any transaction), then record it.

        ``amount`` defaults to everything still refundable. The refund is claimed first
        (``captured`` → ``refunding`` by a conditional update), so two concurrent callers (two
        admins canceling the same paid order) never both ask the provider.
        """
        # Keyed by our own request (a provider may reuse its id across partial refunds). Built
        # first: a key too long to record must be refused before the provider returns money.
        own_id = f"refund:{payment_id}:{request_key or new_id('rfd')}"
        if len(own_id) > 128:
            raise InvalidInput("the idempotency key is too long", code="invalid_idempotency_key")
        info = self.get(payment_id)
        provider = self.toolbox.payment_providers.get(info.provider_id)
        if provider is None:
            raise ToolboxError(f"payment provider {info.provider_id!r} is not enabled", code="provider_unavailable",
                               status=502)
        refundable, previous = self._claim_refund(payment_id, amount)
        amount = refundable if amount is None else amount
        try:
            try:
                outcome = resolve(provider.refund(payment_id, amount))
            except Exception as exc:
                raise ToolboxError("the payment provider failed to refund", code="refund_failed",
                                   status=502) from exc
            if not outcome.succeeded:
                raise ToolboxError(outcome.message or "the payment provider refused the refund",
                                   code="refund_failed", status=502)
        except ToolboxError:
            self._set_status(payment_id, "refunding", previous)
            raise
        with self.toolbox.db.transaction() as session:
            return self._report(session, "refund", info.provider_id, payment_id, own_id, amount, info.currency,
                                {"actor": actor, "reason": reason[:500],
                                 "gateway_transaction_id": outcome.gateway_transaction_id}, cancel_order=False)

    def request_refund_in_session(self, session: Session, payment: Payment, order: Order, *, amount: int,
                                  reason: str, actor: str, request_key: str | None = None) -> TransactionResult:
        """Record a refund request for a provider that cannot refund through its API.

        The payment becomes ``refund_pending``, the order history says who asked for how much,
        and ``payment.refund_requested`` tells staff (and the gateway plugin) to return it there.
        The caller holds the payment and order rows locked.
        """
        if payment.status not in ("captured", "refund_required"):
            raise self._state_error(payment)
        refundable = payment.captured_amount - payment.refunded_amount
        if amount <= 0 or amount > refundable:
            raise AmountMismatch(f"at most {refundable} tiyin can be refunded", details={"refundable": refundable})
        tx = PaymentTransaction(id=new_id("ptx"), payment_id=payment.id, provider_id=payment.provider_id,
                                gateway_transaction_id=f"request:{payment.id}:{request_key or new_id('rfq')}",
                                kind="refund_request", amount=amount, currency=payment.currency,
                                data={"actor": actor, "reason": reason[:500]})
        session.add(tx)
        payment.status = "refund_pending"
        order.payment_status = "refund_pending"
        note(order, "refund_requested", f"{amount} tiyin: {reason}"[:500], actor)
        emit(session, "payment.refund_requested", payment_event(order, payment, amount=amount, reason=reason[:500]))
        session.flush()
        return transaction_result(tx, payment, replayed=False)

    def _claim_refund(self, payment_id: str, amount: int | None) -> tuple[int, str]:
        """Move a captured (or late-captured) payment to ``refunding``.

        Returns the refundable amount and the status to go back to if the provider fails;
        409/422 when a refund is not allowed.
        """
        with self.toolbox.db.transaction() as session:
            payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
            if payment is None:
                raise NotFound("no such payment", code="payment_not_found")
            if payment.status not in ("captured", "refund_required"):
                raise PaymentStateConflict(f"a {payment.status} payment cannot be refunded",
                                           code="refund_in_progress" if payment.status in
                                           ("refunding", "refund_pending") else None,
                                           details={"status": payment.status})
            refundable = payment.captured_amount - payment.refunded_amount
            if amount is not None and amount > refundable:
                raise AmountMismatch(f"at most {refundable} tiyin can be refunded",
                                     details={"refundable": refundable})
            previous, payment.status = payment.status, "refunding"
            return refundable, previous

    def _set_status(self, payment_id: str, expected: str, new: str) -> bool:
        """Conditional status change in its own short transaction; True when this caller made it."""
        with self.toolbox.db.transaction() as session:
            changed = session.execute(update(Payment).where(Payment.id == payment_id, Payment.status == expected)
                                      .values(status=new))
            return changed.rowcount == 1

    # -------------------------------------------------------------- internals
    def _ensure_order(self, payment_id: str) -> None:
        """A gateway reported before the storefront completed the cart: complete it now."""
        with self.toolbox.db.session() as session:
            payment = session.get(Payment, payment_id)
            if payment is None or payment.order_id is not None:
                return
        with self.toolbox.db.transaction() as session:
            self._ensure_order_in_session(session, payment_id)

    def _ensure_order_in_session(self, session: Session, payment_id: str) -> None:
        """Complete the payment's cart inside ``session`` when it has no order yet (cart, then payment locks)."""
        payment = held_locks(session).get(("payments", payment_id)) or session.get(Payment, payment_id)
        if payment is None or payment.order_id is not None:
            return
        try:
            CheckoutService(self.toolbox).complete_in_session(session, payment.cart_id, None, actor="gateway",
                                                              check_owner=False)
        except Conflict as exc:
            if exc.code != "cart_completed":
                raise

    def _report(self, session: Session, kind: str, provider_id: str, payment_id: str, gateway_transaction_id: str,
                amount: int | None, currency: str | None, data: dict[str, Any] | None,
                *, cancel_order: bool = True, hold_until: datetime | None = None) -> TransactionResult:
        if not isinstance(gateway_transaction_id, str) or not gateway_transaction_id \
                or len(gateway_transaction_id) > 128:
            raise InvalidInput("gateway_transaction_id is required (at most 128 characters)",
                               code="invalid_gateway_transaction_id")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
            raise InvalidInput("amount must be a positive integer number of tiyin", code="invalid_amount")
        held = held_locks(session)
        payment = held.get(("payments", payment_id))  # already locked and reloaded in this transaction
        if payment is None:
            payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update()
                                     .execution_options(populate_existing=True))
        if payment is None:
            raise NotFound("no such payment", code="payment_not_found")
        held[("payments", payment.id)] = payment
        if payment.provider_id != provider_id:
            raise Conflict("this payment belongs to another provider", code="provider_mismatch")
        seen = session.connection().execute(_SEEN, {"b_provider": provider_id, "b_gateway": gateway_transaction_id,
                                                    "b_kind": kind}).first()
        if seen is not None:
            if seen.payment_id != payment.id:
                raise Conflict("this gateway transaction belongs to another payment",
                               code="gateway_transaction_conflict")
            return transaction_result(seen, payment, replayed=True)
        if currency is not None and currency != payment.currency:
            raise CurrencyMismatch(f"currency must be {payment.currency}",
                                   details={"expected": payment.currency, "got": currency})
        order = held.get(("orders", payment.order_id)) if payment.order_id else None
        if order is None and payment.order_id:
            order = session.scalar(select(Order).where(Order.id == payment.order_id).with_for_update()
                                   .execution_options(populate_existing=True))
            held[("orders", payment.order_id)] = order
        writes = _Writes()
        flags = getattr(self, f"_apply_{kind}")(session, payment, order, amount, cancel_order=cancel_order,
                                                hold_until=hold_until, writes=writes) or {}
        tx = {"id": new_id("ptx"), "payment_id": payment.id, "provider_id": provider_id,
              "gateway_transaction_id": gateway_transaction_id, "kind": kind,
              "amount": amount if amount is not None else payment.amount, "currency": payment.currency,
              "data": {**(data or {}), **flags}, "created_at": utcnow()}
        if kind in ("authorize", "capture"):
            writes.write(session, payment, self._require_order(order), tx)
        else:
            session.flush()  # what cancel / refund changed through the ORM
            session.connection().execute(_INSERT_TX, tx)
        return TransactionResult(tx["id"], payment.id, payment.order_id, kind, payment.status, tx["amount"],
                                 tx["created_at"], False, bool(tx["data"].get("refund_required")))

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
                         *, writes: _Writes, hold_until: datetime | None = None, **_: Any) -> None:
        order = self._require_order(order)
        self._check_amount(payment, amount)
        if payment.status != "pending" or order.status == "canceled":
            raise self._state_error(payment)
        writes.payment["status"] = "authorized"
        writes.order["payment_status"] = "authorized"
        if hold_until is not None and order.status == "pending_payment":
            hold = _aware(hold_until)
            if order.payment_expires_at is None or _aware(order.payment_expires_at) < hold:
                writes.order["payment_expires_at"] = hold
        writes.note = ("payment_authorized", f"{payment.provider_id}", "system")
        writes.emit(session, "payment.authorized", payment_event(order, payment, amount=payment.amount))

    def _apply_capture(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                       *, writes: _Writes, **_: Any) -> dict[str, Any] | None:
        order = self._require_order(order)
        self._check_amount(payment, amount)
        late = payment.status == "canceled" or order.status == "canceled"
        if payment.status not in ("pending", "authorized") and not (late and payment.status == "canceled"):
            raise self._state_error(payment)
        if late:
            # The money is taken but the order is gone (expired or canceled, stock released):
            # record it and make somebody return it, never drop it.
            writes.payment.update(status="refund_required", captured_amount=payment.amount)
            writes.order["payment_status"] = "refund_required"
            writes.note = ("payment_captured_late", f"{payment.provider_id}: captured after the order was canceled; "
                                                    "refund required", "system")
            writes.emit(session, "payment.refund_required", payment_event(order, payment, amount=payment.amount))
            return {"refund_required": True}
        writes.payment.update(status="captured", captured_amount=payment.amount)
        writes.order["payment_status"] = "paid"
        if order.status == "pending_payment":
            writes.order.update(status="placed", payment_expires_at=None)
        inventory.convert(session, order.id)
        writes.note = ("payment_captured", f"{payment.provider_id}", "system")
        writes.emit(session, "payment.captured", payment_event(order, payment, amount=payment.amount))
        return None

    def _apply_cancel(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                      **_: Any) -> None:
        if payment.status not in ("pending", "authorized"):
            raise self._state_error(payment)
        if order is not None:
            cancel_in_session(session, order, payment, reason="payment canceled at gateway", actor=payment.provider_id)
            order.payment_status = "canceled"
        payment.status = "canceled"
        emit(session, "payment.canceled", payment_event(order, payment))

    def _apply_refund(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                      *, cancel_order: bool = True, **_: Any) -> None:
        if payment.status not in REFUNDABLE:
            raise self._state_error(payment)
        if amount is None or amount > payment.captured_amount - payment.refunded_amount:
            raise AmountMismatch("refund exceeds the captured amount",
                                 details={"refundable": payment.captured_amount - payment.refunded_amount})
        payment.refunded_amount += amount
        full = payment.refunded_amount == payment.captured_amount
        if full:
            payment.status = "refunded"
        elif payment.status in ("refunding", "refund_pending"):
            payment.status = "captured"
        if order is not None:
            if full:
                order.payment_status = "refunded"
            elif payment.status == "captured":
                order.payment_status = "partially_refunded"
            note(order, "payment_refunded", f"{amount} tiyin")
            if cancel_order and full and order.status not in ("canceled", "completed"):
                cancel_in_session(session, order, payment, reason="payment refunded", actor=payment.provider_id,
                                  refunded=True)
        emit(session, "payment.refunded", payment_event(order, payment, amount=amount))

    @staticmethod
    def _state_error(payment: Payment) -> Conflict:
        codes = {"captured": "payment_already_captured", "canceled": "payment_canceled",
                 "refunded": "payment_refunded", "refunding": "refund_in_progress",
                 "refund_pending": "refund_in_progress", "refund_required": "payment_refund_required"}
        return Conflict(f"the payment is {payment.status}", code=codes.get(payment.status, "invalid_payment_state"),
                        details={"status": payment.status})

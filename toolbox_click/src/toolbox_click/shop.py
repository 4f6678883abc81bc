"""Click SHOP API: Prepare (action 0) and Complete (action 1), as one state machine.

Checks run in the order of Click's own sample (-8 → -1 → -3 → -5 → -2 → -6 → -9/-4), and the
official test matrix fixes the rest:

* a Prepare with ``error < 0`` is -9 and changes nothing (no attempt exists yet to cancel);
* a Complete with ``error < 0`` means Click did not take the money: the attempt is cancelled,
  the order released, and the answer is -9 (also on a repeat, and also when it names an
  already-confirmed attempt: the matrix expects -9 there; the confirmed payment is kept and
  the Click error recorded on the row, see the README);
* a repeated successful Complete is -4, a Complete of a cancelled attempt -9, an unknown
  ``merchant_prepare_id`` -6; a repeated Prepare returns the same ``merchant_prepare_id``.

Each callback is ONE database transaction whose first statement reads the order, its payment,
our attempt and the kernel's earlier report of it, locking the payment and the order
(``PaymentService.read_for_report``), so duplicates racing each other are serialized: one
authorize, one capture, one ``payment.captured``. Every check runs on what that read returned,
before anything is written; then ONE statement writes the kernel's report together with our
row (``also=``: on PostgreSQL the authorization or capture, the history entry, the outbox event,
the stock sold and our attempt are one data-modifying statement). A Prepare or Complete is thus
BEGIN, 2 statements, COMMIT. A refusal is a :class:`ClickError` raised out of the transaction
after its read; the kernel ends such a transaction, which wrote nothing, with COMMIT too (a
ROLLBACK would make psycopg drop the connection's prepared statements).

Every change of a ``prepared`` attempt is made with its payment locked, so the read shows it as
it is; a ``confirmed`` one may become ``reversed`` meanwhile (a refund), which changes only the
repeat's answer (-4 or -9).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from toolbox_click import rows
from toolbox_click.protocol import (
    COMPLETE,
    PREPARE,
    ClickCode,
    ClickError,
    ClickRequest,
    amount_to_tiyin,
    parse_request,
    reply,
)
from toolbox_click.settings import ClickSettings
from toolbox_click.signature import signature_valid
from toolbox_core.api import GatewayQuery, GatewayState, OrderView, PaymentService, utcnow

log = logging.getLogger("toolbox.click")

PROVIDER_ID = "click"
#: Kernel payment statuses from which Click may still take the money (``canceled``: a late
#: capture, recorded by the kernel as refund required and reversed by us).
CAPTURABLE = ("pending", "authorized", "canceled")
PAID = ("captured", "refunding", "refund_pending", "refund_required", "refunded", "partially_refunded")


class ClickShop:
    """Answers Click's callbacks; ``handle(fields, endpoint_action)`` returns the reply body."""

    def __init__(self, toolbox: Any, settings: ClickSettings) -> None:
        self.toolbox = toolbox
        self.settings = settings
        self.payments = PaymentService(toolbox)

    def handle(self, raw: dict[str, str], endpoint_action: int | None) -> dict[str, Any]:
        """Validate, verify and dispatch one callback (``endpoint_action``: the action the URL
        serves, ``None`` for ``/click/callback``). Never raises a protocol error: it is the reply."""
        id_field = "merchant_confirm_id" if raw.get("action") == "1" else "merchant_prepare_id"
        try:
            code, our_id = self._dispatch(self._verified(raw, endpoint_action))
        except ClickError as exc:
            return reply(raw, exc.code, note=exc.note, id_field=id_field)
        return reply(raw, code, id_field=id_field, merchant_id=our_id if code == ClickCode.SUCCESS else None)

    def _dispatch(self, request: ClickRequest) -> tuple[ClickCode, int]:
        try:
            return self._once(request)
        except IntegrityError:
            # A duplicate committed the same click_trans_id between our read and our insert, or
            # our attempt changed under the confirmation (see rows.CONFIRM): run again, and
            # answer from the rows as they are now.
            return self._once(request)

    def _once(self, request: ClickRequest) -> tuple[ClickCode, int]:
        """The callback in ONE transaction: the code and our id, or a :class:`ClickError`."""
        with self.toolbox.db.transaction() as session:
            if request.action == PREPARE:
                return ClickCode.SUCCESS, self._prepare(session, request)
            if request.error < 0:
                return ClickCode.TRANSACTION_CANCELLED, self._failed_at_click(session, request)
            return ClickCode.SUCCESS, self._complete(session, request)

    # ------------------------------------------------------------------ checks common to both
    def _verified(self, raw: dict[str, str], endpoint_action: int | None) -> ClickRequest:
        request = parse_request(raw)  # -8
        if not signature_valid(raw, self.settings.secret_key.get_secret_value()):
            raise ClickError(ClickCode.SIGN_CHECK_FAILED)
        if request.service_id != self.settings.service_id:
            raise ClickError(ClickCode.BAD_REQUEST, "unknown service_id")
        if request.action not in (PREPARE, COMPLETE) or (endpoint_action is not None
                                                         and request.action != endpoint_action):
            raise ClickError(ClickCode.ACTION_NOT_FOUND)
        return request

    def _read(self, session: Session, request: ClickRequest, query: GatewayQuery, **params: Any) -> GatewayState:
        """The order named by ``merchant_trans_id`` (its number) with its Click payment and our
        attempt, payment then order row locked, in one statement; -5 when there is none."""
        state = self.payments.read_for_report(
            session, query, provider_id=PROVIDER_ID, key=request.merchant_trans_id,
            gateway_transaction_id=str(request.click_trans_id), params=params)
        if state is None or state.view.number != request.merchant_trans_id or state.view.payment is None:
            raise ClickError(ClickCode.USER_DOES_NOT_EXIST)
        return state

    @staticmethod
    def _amount(request: ClickRequest, expected: int) -> int:
        tiyin = amount_to_tiyin(request.amount)
        if tiyin != expected:
            raise ClickError(ClickCode.INCORRECT_AMOUNT)
        return tiyin

    # ------------------------------------------------------------------ Prepare
    def _prepare(self, session: Session, request: ClickRequest) -> int:
        """Prepare (0): authorize the payment and record our attempt; returns its id."""
        state = self._read(session, request, rows.PREPARE, c_trans=request.click_trans_id)
        view, payment = state.view, state.view.payment
        assert payment is not None
        amount = self._amount(request, payment.amount)
        if request.error < 0:
            # Click reports its own failure before any money moved. Its rule for an error it
            # sends: "cancel the payment in our billing and answer -9". A Prepare has created
            # nothing to cancel yet, so nothing is recorded or authorized, and the order is left
            # as it was (still payable by another attempt; one we prepared earlier keeps its
            # hold, and Click's Complete or the hold's end settles it).
            log.info("click: Prepare %s for order %s came with Click error %s; refused with -9",
                     request.click_trans_id, view.number, request.error)
            raise ClickError(ClickCode.TRANSACTION_CANCELLED)
        if state.own is not None:
            return self._repeated_prepare(state.own, view)
        if payment.status in PAID or view.payment_status == "paid":
            raise ClickError(ClickCode.ALREADY_PAID)
        if payment.status == "canceled" or view.status != "pending_payment":
            raise ClickError(ClickCode.TRANSACTION_CANCELLED)
        now = utcnow()
        params = rows.prepared_values(
            now=now, click_trans_id=request.click_trans_id, click_paydoc_id=request.click_paydoc_id,
            service_id=request.service_id, merchant_trans_id=request.merchant_trans_id, order_id=view.id,
            payment_id=payment.id, amount=amount, sign_time=request.sign_time)
        if payment.status != "pending":
            # Another attempt of this order is prepared already: ours is recorded, nothing else.
            return rows.insert_prepared(session.connection(), params)
        # The order stays reserved, and the timeout job waits for Click's Complete; our row is
        # written with the authorization (on PostgreSQL in the kernel's one statement), its id
        # returned by it.
        inserted: list[Any] = []
        result = self.payments.authorize_in_session(
            session, PROVIDER_ID, payment.id, gateway_transaction_id=str(request.click_trans_id),
            amount=amount, hold_until=now + timedelta(seconds=self.settings.prepare_hold_seconds),
            data={"click_paydoc_id": request.click_paydoc_id}, state=state,
            also=[(rows.INSERT_RETURNING, params, inserted)])
        if result.replayed:
            # The kernel had this authorization already (it then writes nothing): ours alone.
            return rows.insert_prepared(session.connection(), params)
        return int(inserted[0][0])

    @staticmethod
    def _repeated_prepare(row: SimpleNamespace, view: OrderView) -> int:
        """The same ``click_trans_id`` again: the same ``merchant_prepare_id``, or its final state."""
        if row.order_id != view.id:
            raise ClickError(ClickCode.BAD_REQUEST, "click_trans_id belongs to another order")
        if row.status == "confirmed":
            raise ClickError(ClickCode.ALREADY_PAID)
        if row.status in ("cancelled", "reversed"):
            raise ClickError(ClickCode.TRANSACTION_CANCELLED)
        return int(row.id)

    # ------------------------------------------------------------------ Complete
    @staticmethod
    def _attempt(request: ClickRequest, state: GatewayState, amount: int) -> SimpleNamespace:
        """Our attempt ``merchant_prepare_id`` as read, when it is this payment's: -6, -2 otherwise."""
        row = state.own
        if row is None or row.click_trans_id != request.click_trans_id or row.order_id != state.view.id:
            raise ClickError(ClickCode.TRANSACTION_DOES_NOT_EXIST)
        if row.amount != amount:
            raise ClickError(ClickCode.INCORRECT_AMOUNT)
        return row

    def _complete(self, session: Session, request: ClickRequest) -> int:
        """Complete (0): capture the payment and confirm our attempt; returns its id."""
        state = self._read(session, request, rows.COMPLETE, c_row=request.merchant_prepare_id)
        view, payment = state.view, state.view.payment
        assert payment is not None
        amount = self._amount(request, payment.amount)
        row = self._attempt(request, state, amount)
        if row.status == "confirmed":
            raise ClickError(ClickCode.ALREADY_PAID)
        if row.status in ("cancelled", "reversed"):
            raise ClickError(ClickCode.TRANSACTION_CANCELLED)
        if payment.status not in CAPTURABLE:
            # Another Click attempt already paid this order (see the README).
            log.warning("click: attempt %s completed for order %s already paid by another attempt",
                        row.click_trans_id, view.number)
            raise ClickError(ClickCode.ALREADY_PAID)
        # Click has the money; after the order was canceled the kernel records a late capture
        # (refund required) and we reverse it through the Merchant API (the subscriber).
        late = payment.status == "canceled" or view.status == "canceled"
        confirm = {"c_row": row.id, "c_now": utcnow(), "c_reversal": "pending" if late else None}
        result = self.payments.capture_in_session(
            session, PROVIDER_ID, payment.id, gateway_transaction_id=str(request.click_trans_id), amount=amount,
            data={"click_paydoc_id": request.click_paydoc_id, "merchant_prepare_id": row.id}, state=state,
            also=[(rows.CONFIRM, confirm)])
        if result.replayed:
            # The kernel had this capture already (it then writes nothing): confirm ours alone.
            session.connection().execute(rows.CONFIRM, confirm)
        if result.refund_required != late:
            session.connection().execute(rows.REVERSAL, {"c_row": row.id,
                                                         "c_reversal": "pending" if result.refund_required else None})
        return int(row.id)

    def _failed_at_click(self, session: Session, request: ClickRequest) -> int:
        """Complete with ``error < 0``: cancel the attempt and release the order (idempotent);
        answered -9 with our id, committed."""
        state = self._read(session, request, rows.FAILED, c_row=request.merchant_prepare_id)
        payment = state.view.payment
        assert payment is not None
        row = self._attempt(request, state, self._amount(request, payment.amount))
        # The statement cancels only a prepared attempt; the read shows whether ours was.
        session.connection().execute(rows.FAIL, {
            "c_row": row.id, "c_error": request.error, "c_note": request.error_note[:500] or None,
            "c_now": utcnow()})
        if row.status == "confirmed":
            log.warning("click: error %s reported for confirmed attempt %s; the payment is kept",
                        request.error, row.click_trans_id)
        if row.status == "prepared" and state.values["others"] is None \
                and payment.status in ("pending", "authorized"):
            self.payments.cancel_in_session(
                session, PROVIDER_ID, payment.id, gateway_transaction_id=str(row.click_trans_id),
                reason=f"Click error {request.error}: {request.error_note}"[:500],
                data={"click_error": request.error})
        return int(row.id)

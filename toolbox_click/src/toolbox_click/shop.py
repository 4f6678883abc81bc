"""Click SHOP API: Prepare (action 0) and Complete (action 1), as one state machine.

Checks run in the order of Click's own sample (-8 → -1 → -3 → -5 → -2 → -6 → -9/-4), and the
official test matrix fixes the rest:

* a Complete with ``error < 0`` means Click did not take the money: the attempt is cancelled,
  the order released, and the answer is -9 (also on a repeat, and also when it names an
  already-confirmed attempt: the matrix expects -9 there; the confirmed payment is kept and
  the Click error recorded on the row, see the README);
* a repeated successful Complete is -4, a Complete of a cancelled attempt -9, an unknown
  ``merchant_prepare_id`` -6; a repeated Prepare returns the same ``merchant_prepare_id``.

Each callback is ONE database transaction that locks the payment row, then the order row (the
kernel's lock order), then the Click row, so duplicates racing each other are serialized: one
authorize, one capture, one ``payment.captured``. The kernel report runs inside that
transaction (``*_in_session``), so our row and the order change commit together.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from toolbox_click import rows
from toolbox_click.models import ClickTransaction
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
from toolbox_core.api import NotFound, OrderView, PaymentService, order_view_in_session, utcnow

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
            # A duplicate committed the same click_trans_id between our read and our insert:
            # run again, and answer from the row it committed.
            return self._once(request)

    def _once(self, request: ClickRequest) -> tuple[ClickCode, int]:
        if request.action == PREPARE:
            return ClickCode.SUCCESS, self._prepare(request)
        return self._complete(request)

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

    def _order(self, session: Session, request: ClickRequest) -> OrderView:
        """The order named by ``merchant_trans_id`` (its number), payment then order row locked; -5."""
        try:
            view = order_view_in_session(session, request.merchant_trans_id, lock=True, lines=False)
        except NotFound:
            raise ClickError(ClickCode.USER_DOES_NOT_EXIST) from None
        if view.number != request.merchant_trans_id or view.payment is None \
                or view.payment.provider_id != PROVIDER_ID:
            raise ClickError(ClickCode.USER_DOES_NOT_EXIST)
        return view

    @staticmethod
    def _amount(request: ClickRequest, expected: int) -> int:
        tiyin = amount_to_tiyin(request.amount)
        if tiyin != expected:
            raise ClickError(ClickCode.INCORRECT_AMOUNT)
        return tiyin

    # ------------------------------------------------------------------ Prepare
    def _prepare(self, request: ClickRequest) -> int:
        with self.toolbox.db.transaction() as session:
            view = self._order(session, request)
            payment = view.payment
            assert payment is not None
            amount = self._amount(request, payment.amount)
            # Our row first, in one statement (a repeat inserts nothing): a refusal below
            # rolls it back with the rest of the transaction.
            row_id = rows.insert_prepared(
                session, click_trans_id=request.click_trans_id, click_paydoc_id=request.click_paydoc_id,
                service_id=request.service_id, merchant_trans_id=request.merchant_trans_id,
                order_id=view.id, payment_id=payment.id, amount=amount, sign_time=request.sign_time)
            if row_id is None:
                row = session.scalar(select(ClickTransaction).where(
                    ClickTransaction.click_trans_id == request.click_trans_id).with_for_update())
                assert row is not None  # the conflicting row is committed (the payment lock waits for it)
                return self._repeated_prepare(row, view)
            if payment.status in PAID or view.payment_status == "paid":
                raise ClickError(ClickCode.ALREADY_PAID)
            if payment.status == "canceled" or view.status != "pending_payment":
                raise ClickError(ClickCode.TRANSACTION_CANCELLED)
            if payment.status == "pending":
                # The order stays reserved, and the timeout job waits for Click's Complete.
                self.payments.authorize_in_session(
                    session, PROVIDER_ID, payment.id, gateway_transaction_id=str(request.click_trans_id),
                    amount=amount, hold_until=utcnow() + timedelta(seconds=self.settings.prepare_hold_seconds),
                    data={"click_paydoc_id": request.click_paydoc_id})
            return row_id

    @staticmethod
    def _repeated_prepare(row: ClickTransaction, view: OrderView) -> int:
        """The same ``click_trans_id`` again: the same ``merchant_prepare_id``, or its final state."""
        if row.order_id != view.id:
            raise ClickError(ClickCode.BAD_REQUEST, "click_trans_id belongs to another order")
        if row.status == "confirmed":
            raise ClickError(ClickCode.ALREADY_PAID)
        if row.status in ("cancelled", "reversed"):
            raise ClickError(ClickCode.TRANSACTION_CANCELLED)
        return row.id

    # ------------------------------------------------------------------ Complete
    def _complete(self, request: ClickRequest) -> tuple[ClickCode, int]:
        """Capture (0), or record Click's failure (-9, committed); rejections raise :class:`ClickError`."""
        with self.toolbox.db.transaction() as session:
            view = self._order(session, request)
            payment = view.payment
            assert payment is not None
            amount = self._amount(request, payment.amount)
            if request.error >= 0 and payment.status in CAPTURABLE and rows.confirm_prepared(
                    session, request.merchant_prepare_id, click_trans_id=request.click_trans_id,
                    order_id=view.id, amount=amount):
                # The usual Complete: our prepared row, matching, confirmed (and locked) in one
                # statement; anything else is told apart below from the row as it is.
                return ClickCode.SUCCESS, self._capture(session, request, payment.id, amount,
                                                        request.merchant_prepare_id)
            row = session.scalar(select(ClickTransaction).where(
                ClickTransaction.id == request.merchant_prepare_id).with_for_update())
            if row is None or row.click_trans_id != request.click_trans_id or row.order_id != view.id:
                raise ClickError(ClickCode.TRANSACTION_DOES_NOT_EXIST)
            if row.amount != amount:
                raise ClickError(ClickCode.INCORRECT_AMOUNT)
            if request.error < 0:
                self._failed_at_click(session, request, row, payment.status)
                return ClickCode.TRANSACTION_CANCELLED, row.id
            if row.status == "confirmed":
                raise ClickError(ClickCode.ALREADY_PAID)
            if row.status in ("cancelled", "reversed"):
                raise ClickError(ClickCode.TRANSACTION_CANCELLED)
            if payment.status not in CAPTURABLE:
                # Another Click attempt already paid this order (see the README).
                log.warning("click: attempt %s completed for order %s already paid by another attempt",
                            row.click_trans_id, view.number)
                raise ClickError(ClickCode.ALREADY_PAID)
            # Unreachable while the payment row lock serializes callbacks (the statement above
            # confirms such a row); kept so that no path captures without confirming our row.
            row.status = "confirmed"
            row.confirmed_at = utcnow()
            session.flush()
            return ClickCode.SUCCESS, self._capture(session, request, payment.id, amount, row.id)

    def _capture(self, session: Session, request: ClickRequest, payment_id: str, amount: int, row_id: int) -> int:
        """Capture the payment of our confirmed row ``row_id``; returns ``row_id``."""
        result = self.payments.capture_in_session(
            session, PROVIDER_ID, payment_id, gateway_transaction_id=str(request.click_trans_id),
            amount=amount,
            data={"click_paydoc_id": request.click_paydoc_id, "merchant_prepare_id": row_id})
        if result.refund_required:
            # Click has the money but the order is gone: answer success (Click's rule) and
            # reverse it through the Merchant API (the payment.refund_required subscriber).
            rows.mark_reversal_pending(session, row_id)
        return row_id

    def _failed_at_click(self, session: Session, request: ClickRequest, row: ClickTransaction,
                         payment_status: str) -> None:
        """Complete with ``error < 0``: cancel the attempt and release the order (idempotent)."""
        row.click_error = request.error
        row.click_error_note = request.error_note[:500] or None
        if row.status != "prepared":
            if row.status == "confirmed":
                log.warning("click: error %s reported for confirmed attempt %s; the payment is kept",
                            request.error, row.click_trans_id)
            return
        row.status = "cancelled"
        row.cancelled_at = utcnow()
        session.flush()
        others = session.scalar(select(ClickTransaction.id).where(
            ClickTransaction.order_id == row.order_id, ClickTransaction.id != row.id,
            ClickTransaction.status.in_(("prepared", "confirmed"))).limit(1))
        if others is None and payment_status in ("pending", "authorized"):
            self.payments.cancel_in_session(
                session, PROVIDER_ID, row.payment_id, gateway_transaction_id=str(row.click_trans_id),
                reason=f"Click error {request.error}: {request.error_note}"[:500],
                data={"click_error": request.error})

"""Returning Click payments through the Merchant API (``payment/reversal``).

Two ways in:

* the provider's :meth:`~toolbox_click.provider.ClickProvider.refund` — an admin cancel or
  refund of a paid Click order (the kernel claims the refund, calls us outside any
  transaction, then records it);
* the ``payment.refund_required`` subscriber — Click took the money after the order had been
  canceled (a late capture): we answered Click success, as its rules require, and reverse it
  here, then record the refund with the kernel.

Click reverses whole payments only; the reversal is sent once per attempt (never retried
blindly), and our row remembers that it is done so a redelivered event does nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from toolbox_click.merchant_api import ClickApiError, ClickMerchantApi, ClickUnavailable
from toolbox_click.models import ClickTransaction
from toolbox_core.api import (
    Event,
    PaymentService,
    PermanentFailure,
    RefundResult,
    RetryLater,
    utcnow,
)

log = logging.getLogger("toolbox.click")

PROVIDER_ID = "click"


def confirmed_attempt(toolbox: Any, payment_id: str) -> ClickTransaction | None:
    """The confirmed Click attempt of a kernel payment (at most one exists)."""
    with toolbox.db.session() as session:
        row = session.scalar(select(ClickTransaction).where(ClickTransaction.payment_id == payment_id,
                                                            ClickTransaction.status == "confirmed"))
        if row is not None:
            session.expunge(row)
        return row


def mark_reversed(toolbox: Any, row_id: int, *, status: str, note: str | None = None) -> None:
    """Record the reversal's outcome on our row (``done`` → the attempt becomes ``reversed``)."""
    with toolbox.db.transaction() as session:
        row = session.scalar(select(ClickTransaction).where(ClickTransaction.id == row_id).with_for_update())
        if row is None:
            return
        row.reversal_status = status
        row.reversal_note = note[:500] if note else None
        if status == "done":
            row.status = "reversed"
            row.reversed_at = utcnow()


def reverse(toolbox: Any, api: ClickMerchantApi, row: ClickTransaction) -> RefundResult:
    """Ask Click to reverse ``row``'s payment; the outcome is recorded on the row."""
    try:
        answer = api.reversal(row.click_trans_id)
    except ClickUnavailable:
        raise
    except ClickApiError as exc:
        mark_reversed(toolbox, row.id, status="failed", note=str(exc))
        return RefundResult(succeeded=False, message=f"Click refused the reversal: {exc}")
    mark_reversed(toolbox, row.id, status="done")
    return RefundResult(succeeded=True, gateway_transaction_id=f"reversal:{answer.get('payment_id') or row.click_trans_id}")


def refund_payment(toolbox: Any, api: ClickMerchantApi, payment_id: str, amount: int) -> RefundResult:
    """The provider's refund: a full reversal of the confirmed attempt."""
    row = confirmed_attempt(toolbox, payment_id)
    if row is None:
        return RefundResult(succeeded=False, message="no confirmed Click payment for this order")
    if amount != row.amount:
        return RefundResult(succeeded=False, message="Click reverses whole payments only")
    try:
        return reverse(toolbox, api, row)
    except ClickUnavailable as exc:
        return RefundResult(succeeded=False, message=str(exc))


def on_refund_required(toolbox: Any, api: ClickMerchantApi, event: Event) -> None:
    """``payment.refund_required`` for a Click payment: reverse it, then record the refund."""
    if event.payload.get("provider_id") != PROVIDER_ID:
        return
    payment_id = str(event.payload.get("payment_id"))
    row = confirmed_attempt(toolbox, payment_id)
    if row is None or row.reversal_status == "done":
        return
    try:
        outcome = reverse(toolbox, api, row)
    except ClickUnavailable as exc:
        raise RetryLater(str(exc)) from exc
    if not outcome.succeeded:
        raise PermanentFailure(outcome.message or "Click refused the reversal")
    PaymentService(toolbox).refund(PROVIDER_ID, payment_id, gateway_transaction_id=outcome.gateway_transaction_id
                                   or f"reversal:{row.click_trans_id}", amount=row.amount,
                                   data={"reason": "captured after the order was canceled"})
    log.info("click: reversed late payment %s of order %s", row.click_trans_id, row.merchant_trans_id)

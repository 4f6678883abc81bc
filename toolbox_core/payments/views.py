"""Read models of payments that gateways get back from the kernel (no behaviour here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from toolbox_core.payments.models import Payment, PaymentTransaction


@dataclass(frozen=True)
class TransactionResult:
    """What a gateway report did (or had already done, when ``replayed``).

    ``refund_required`` is ``True`` for a *late capture*: the money was taken after the order
    was canceled (its stock released). The capture is recorded and the payment is marked
    ``refund_required``; the gateway plugin refunds it if its protocol allows, else staff do.
    """

    transaction_id: str
    payment_id: str
    order_id: str | None
    kind: str
    payment_status: str
    amount: int
    created_at: datetime
    replayed: bool = False
    refund_required: bool = False


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


def transaction_result(tx: PaymentTransaction, payment: Payment, replayed: bool) -> TransactionResult:
    return TransactionResult(tx.id, payment.id, payment.order_id, tx.kind, payment.status, tx.amount,
                             tx.created_at, replayed, bool((tx.data or {}).get("refund_required")))


def payment_info(payment: Payment, order_number: str | None, order_status: str | None) -> PaymentInfo:
    return PaymentInfo(payment.id, payment.provider_id, payment.status, payment.amount, payment.currency,
                       payment.cart_id, payment.order_id, order_number, order_status, payment.created_at)

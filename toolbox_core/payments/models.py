"""Payments (one per order, started as a cart's payment session) and their gateway transactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.db.base import Base, TimestampMixin, Tiyin, utcnow
from toolbox_core.db.types import JSONType

#: pending → authorized → captured → refunded; pending/authorized → canceled. ``refunding``: a
#: kernel-initiated refund is claimed and the provider is being asked (back to captured if it fails).
#: ``refund_pending``: a refund was requested from a provider that cannot refund through its API
#: (the gateway or staff do it, then it is reported). ``refund_required``: captured after the order
#: was canceled (late capture); the money must go back.
PAYMENT_STATES = ("pending", "authorized", "captured", "refunding", "refund_pending", "refund_required",
                  "canceled", "refunded")


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cart_id: Mapped[str] = mapped_column(String(40), index=True)
    order_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    amount: Mapped[int] = mapped_column(Tiyin)
    currency: Mapped[str] = mapped_column(String(3), default="UZS")
    captured_amount: Mapped[int] = mapped_column(Tiyin, default=0)
    refunded_amount: Mapped[int] = mapped_column(Tiyin, default=0)
    #: The client's next step returned by the provider's ``initiate`` (redirect, form, none).
    action: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)

    __table_args__ = (
        # At most one pending payment per cart, whatever the concurrency: the cart reads "its"
        # payment session as one row, and changing the provider switches that row (it never adds
        # a second). A cart reopened after a failed payment start had its payment canceled first.
        Index("uq_payments_pending_cart", "cart_id", unique=True,
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )


class PaymentTransaction(Base):
    """One operation reported by a gateway (or done by the kernel); unique per gateway id and kind."""

    __tablename__ = "payment_transactions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    gateway_transaction_id: Mapped[str] = mapped_column(String(128))
    #: authorize | capture | cancel | refund
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(Tiyin)
    currency: Mapped[str] = mapped_column(String(3))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("provider_id", "gateway_transaction_id", "kind"),)

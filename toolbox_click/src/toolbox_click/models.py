"""The plugin's own tables: one row per Click payment attempt, and the invoices sent by phone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.api import Base, TimestampMixin

#: ``prepared`` (Prepare answered 0) → ``confirmed`` (Complete captured it) → ``reversed``
#: (refunded through the Merchant API); ``prepared`` → ``cancelled`` (Complete with error < 0).
CLICK_STATUSES = ("prepared", "confirmed", "cancelled", "reversed")

#: Integer ids that autoincrement on SQLite as well (``merchant_prepare_id`` is Click's int).
ClickId = BigInteger().with_variant(Integer(), "sqlite")


class ClickTransaction(TimestampMixin, Base):
    """A Click payment attempt (``click_trans_id``); its ``id`` is our ``merchant_prepare_id``
    and ``merchant_confirm_id``."""

    __tablename__ = "click_transactions"

    id: Mapped[int] = mapped_column(ClickId, primary_key=True, autoincrement=True)
    click_trans_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    click_paydoc_id: Mapped[int] = mapped_column(BigInteger)
    service_id: Mapped[int] = mapped_column(BigInteger)
    #: The order number Click sent (``transaction_param`` of the redirect).
    merchant_trans_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    payment_id: Mapped[str] = mapped_column(String(40), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: The ``error`` / ``error_note`` Click sent with a failed Complete.
    click_error: Mapped[int | None] = mapped_column(Integer, nullable=True)
    click_error_note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sign_time: Mapped[str] = mapped_column(String(32))
    #: ``pending`` when the money must go back through the Merchant API (captured after the
    #: order was canceled), ``done`` once reversed, ``failed`` when Click refused.
    reversal_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reversal_note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        # At most one confirmed Click payment per order, whatever races.
        Index("uq_click_transactions_confirmed_order", "order_id", unique=True,
              postgresql_where=text("status = 'confirmed'"), sqlite_where=text("status = 'confirmed'")),
        Index("ix_click_transactions_created_at", "created_at"),
    )


class ClickInvoice(Base):
    """An invoice Click sent to a phone number for an order (Merchant API ``invoice/create``)."""

    __tablename__ = "click_invoices"

    id: Mapped[int] = mapped_column(ClickId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    merchant_trans_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

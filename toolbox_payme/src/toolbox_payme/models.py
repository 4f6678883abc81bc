"""The plugin's tables: Payme transactions (one row per Payme id) and the kassa key changed by
ChangePassword (in the database, so every API process sees the same key)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.api import Base, TimestampMixin

#: Transaction states of the Merchant API.
CREATED, PERFORMED, CANCELED, CANCELED_AFTER_PERFORM = 1, 2, -1, -2


class PaymeTransaction(TimestampMixin, Base):
    """One Payme transaction; every reply to Payme is built from this row (never recomputed)."""

    __tablename__ = "payme_transactions"

    #: Our id, returned to Payme as ``transaction``.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Payme's transaction id (24 characters in practice).
    payme_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: Payme's creation time (ms); the 12-hour timeout and GetStatement count from it.
    payme_time: Mapped[int] = mapped_column(BigInteger, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    account: Mapped[dict[str, Any]] = mapped_column(JSON)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    order_number: Mapped[str] = mapped_column(String(20))
    payment_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[int] = mapped_column(SmallInteger)
    reason: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    create_time: Mapped[int] = mapped_column(BigInteger)
    perform_time: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_time: Mapped[int] = mapped_column(BigInteger, default=0)
    #: SetFiscalData results, by type.
    fiscal_perform: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fiscal_cancel: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        # At most one open (state 1) transaction per order, whatever the concurrency.
        Index("uq_payme_transactions_open_order", "order_id", unique=True,
              postgresql_where=text("state = 1"), sqlite_where=text("state = 1")),
    )


class PaymeCredential(Base):
    """A kassa key set by ChangePassword (``name``: ``key`` or ``test_key``); wins over settings."""

    __tablename__ = "payme_credentials"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    changes: Mapped[int] = mapped_column(Integer, default=1)

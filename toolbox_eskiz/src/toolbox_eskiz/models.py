"""The plugin's table: one row per SMS, from the first attempt to the delivery report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.api import Base, TimestampMixin

#: Row statuses: queued (waiting for a retry), sending (a worker owns it), sent (Eskiz took it),
#: delivered / failed (final, from Eskiz or a permanent error), blocked (an anti-pumping cap).
QUEUED, SENDING, SENT, DELIVERED, FAILED, BLOCKED = "queued", "sending", "sent", "delivered", "failed", "blocked"
STATUSES = (QUEUED, SENDING, SENT, DELIVERED, FAILED, BLOCKED)


class EskizMessage(TimestampMixin, Base):
    """An SMS: ``id`` is sent to Eskiz as ``user_sms_id`` and comes back in delivery reports."""

    __tablename__ = "eskiz_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: One row per key (``eskiz:<event id>``): a redelivered event finds it and sends nothing.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    template: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locale: Mapped[str] = mapped_column(String(10), default="ru")
    #: The text sent (a sign-in code is masked).
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    #: Eskiz's status word as last reported (``waiting``, ``DELIVRD``, ``REJECTD``...).
    gateway_status: Mapped[str | None] = mapped_column(String(40), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    eskiz_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Price in tiyin when Eskiz reports it.
    cost: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: While ``sending``: the worker's claim; after it passes another attempt may take the row.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_eskiz_messages_created", "created_at"),)

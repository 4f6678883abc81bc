"""The transactional outbox: events are rows written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.db.base import Base, utcnow
from toolbox_core.db.types import JSONType


class OutboxEvent(Base):
    """An event written by domain code; the relay publishes it after the transaction commits."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Set by the relay once every subscriber's delivery has been queued.
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_outbox_events_unpublished", "published_at", "occurred_at"),)


class EventDelivery(Base):
    """One event handed to one subscriber: the unit of retry, parking and replay.

    ``status`` is ``pending`` until the subscriber succeeds (``done``) or runs out of retries
    (``failed``, listed by ``toolbox events failed``). A pending delivery is due once
    ``next_attempt_at`` has passed and no worker holds it (``claimed_until`` in the past).
    """

    __tablename__ = "event_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), ForeignKey("outbox_events.id", ondelete="CASCADE"))
    subscriber: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Set while a worker owns the delivery; after it passes the delivery is dispatched again.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("event_id", "subscriber"),
        Index("ix_event_deliveries_due", "status", "next_attempt_at"),
    )

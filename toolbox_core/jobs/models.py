"""Runs of scheduled jobs: one row per (job, tick), which is also the embedded-mode lock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.db.base import Base, utcnow


class JobRun(Base):
    """One run of a scheduled job. ``(job, tick)`` is unique: a second scheduler cannot insert it."""

    __tablename__ = "job_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job: Mapped[str] = mapped_column(String(200))
    #: The scheduled time this run belongs to (the moment it was started, for manual runs).
    tick: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")
    #: ``running``, ``ok`` or ``failed``.
    status: Mapped[str] = mapped_column(String(20), default="running")
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint("job", "tick"),
        Index("ix_job_runs_job_started", "job", "started_at"),
    )

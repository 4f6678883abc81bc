"""The plugin's tables: MoySklad rows linked to our SKUs, sync runs with their reports, webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.api import Base, utcnow


class MoySkladItem(Base):
    """A MoySklad assortment row (product, variant) and the SKU it maps to; the staging area of runs.

    ``sku`` is set by full runs from the configured field (the link that incremental runs and
    webhooks, which only carry the MoySklad id, rely on); ``figure`` and ``seen_run`` hold the
    last figure fetched and the run that fetched it.
    """

    __tablename__ = "moysklad_items"

    assortment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str | None] = mapped_column(String(255), nullable=True)
    figure: Mapped[int] = mapped_column(Integer, default=0)
    seen_run: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: The page of ``seen_run`` it came on (full runs write page by page once that is safe).
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (Index("ix_moysklad_items_seen_run_sku", "seen_run", "sku"),
                      Index("ix_moysklad_items_seen_run_page", "seen_run", "page"))


class MoySkladSyncRun(Base):
    """One sync run: its kind, where it got to (``next_href``, to resume), and its report."""

    __tablename__ = "moysklad_sync_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: ``full``, ``incremental`` or ``webhook``.
    kind: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")
    #: ``running``, ``ok``, ``blocked`` (zeroing guard), ``failed`` or ``crashed``.
    status: Mapped[str] = mapped_column(String(20), default="running")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The next page to fetch (a full run that died resumes here).
    next_href: Mapped[str | None] = mapped_column(Text, nullable=True)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_moysklad_sync_runs_started", "started_at"),)


class MoySkladWebhook(Base):
    """A received stock notification, unique by MoySklad's ``requestId`` (retries are ignored)."""

    __tablename__ = "moysklad_webhooks"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    report_url: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)

"""Our copy of the BTS directory (regions, cities/districts, branches), names per locale."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.api import Base, TimestampMixin
from toolbox_core.api import utcnow as _utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


class BtsRegion(TimestampMixin, Base):
    """A region (2-digit code: 01 Tashkent city, 60 Andijon...)."""

    __tablename__ = "bts_regions"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    #: ``{"uz": "...", "ru": "..."}``
    names: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)


class BtsCity(TimestampMixin, Base):
    """A city or district (4-digit code, e.g. 6000 Andijon city)."""

    __tablename__ = "bts_cities"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(10), index=True)
    names: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    has_branches: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)


class BtsBranch(TimestampMixin, Base):
    """A BTS branch (pickup point) with its address, coordinates, phone and weekly hours."""

    __tablename__ = "bts_branches"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(10))
    city_code: Mapped[str] = mapped_column(String(10))
    names: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    addresses: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: ``{"1": "09:00-18:00", ..., "7": null}`` (1 = Monday)
    working_hours: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)

    __table_args__ = (Index("ix_bts_branches_city_active", "city_code", "active"),)

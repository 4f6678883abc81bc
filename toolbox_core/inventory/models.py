"""Inventory: stocked and reserved quantities per SKU and location."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.db.base import Base, TimestampMixin


class StockLocation(TimestampMixin, Base):
    __tablename__ = "stock_locations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class InventoryLevel(TimestampMixin, Base):
    """``available = stocked - reserved`` (never sold below zero)."""

    __tablename__ = "inventory_levels"

    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("stock_locations.id"), primary_key=True)
    stocked: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint("stocked >= 0", name="stocked_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
    )


class InventoryReservation(Base):
    """Stock held for an order: ``active`` until ``converted`` (sold) or ``released``."""

    __tablename__ = "inventory_reservations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    sku: Mapped[str] = mapped_column(String(100))
    location_id: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="active")
    #: When it left ``active`` (converted, released or restocked): recent sales an inventory
    #: source may not know yet are the ``converted`` ones settled since its figures were taken.
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_inventory_reservations_sku_settled", "sku", "settled_at"),)

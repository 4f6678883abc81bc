"""Shipments: one carrier's parcel for an order, with tracking and the carrier's own ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.db.base import Base, TimestampMixin, Tiyin
from toolbox_core.db.types import JSONType


class Shipment(TimestampMixin, Base):
    """A parcel of an order handed to a carrier. Amounts are tiyin.

    ``(provider_id, order_id)`` is unique: creating a shipment twice for the same order with
    the same provider returns the first one (carrier jobs are retried).
    """

    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str] = mapped_column(String(64))
    #: created → in_transit → delivered | returned; canceled (see SHIPMENT_STATUSES).
    status: Mapped[str] = mapped_column(String(20), default="created")
    #: The carrier's id of the shipment (BTS ``orderId``).
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tracking_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    label_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    #: What the carrier charges the store, when it says.
    cost: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Cash the courier collects from the customer (0: prepaid).
    cod_amount: Mapped[int] = mapped_column(Tiyin, default=0)
    #: The carrier's last raw status code (e.g. BTS ``"700"``).
    carrier_status: Mapped[str | None] = mapped_column(String(40), nullable=True)
    provider_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    __table_args__ = (
        UniqueConstraint("provider_id", "order_id"),
        Index("ix_shipments_provider_external", "provider_id", "external_id"),
        Index("ix_shipments_provider_status", "provider_id", "status"),
        CheckConstraint("status in ('created','in_transit','delivered','returned','canceled')", name="status"),
        CheckConstraint("cod_amount >= 0", name="cod_non_negative"),
    )

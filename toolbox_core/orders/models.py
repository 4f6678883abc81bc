"""Orders, their items (prices frozen at purchase), history and the order-number counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from toolbox_core.db.base import Base, TimestampMixin, Tiyin, utcnow
from toolbox_core.db.types import JSONType

#: pending_payment → placed → completed, or → canceled.
ORDER_STATUSES = ("pending_payment", "placed", "completed", "canceled")
#: ``refund_pending``: a refund was requested and waits for the gateway or staff;
#: ``refund_required``: money was captured after the order was canceled (a late capture).
PAYMENT_STATUSES = ("awaiting", "authorized", "paid", "canceled", "partially_refunded", "refund_pending",
                    "refund_required", "refunded")
#: unfulfilled → fulfilled (handed over) → in_transit → delivered | returned; canceled when the
#: shipment was canceled. Shipments (``toolbox_core.fulfillment``) move the last four.
FULFILLMENT_STATUSES = ("unfulfilled", "fulfilled", "in_transit", "delivered", "returned", "canceled")


class Order(TimestampMixin, Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Human-friendly sequential number, e.g. ``"1001"`` (drawn at the end of the checkout
    #: transaction, so never NULL once committed).
    number: Mapped[str | None] = mapped_column(String(20), unique=True, nullable=True)
    cart_id: Mapped[str] = mapped_column(String(40), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    payment_status: Mapped[str] = mapped_column(String(20), default="awaiting")
    fulfillment_status: Mapped[str] = mapped_column(String(20), default="unfulfilled")
    locale: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    shipping: Mapped[dict[str, Any]] = mapped_column(JSONType)
    currency: Mapped[str] = mapped_column(String(3), default="UZS")
    subtotal: Mapped[int] = mapped_column(Tiyin)
    shipping_total: Mapped[int] = mapped_column(Tiyin)
    discount_total: Mapped[int] = mapped_column(Tiyin, default=0)
    total: Mapped[int] = mapped_column(Tiyin)
    payment_provider_id: Mapped[str] = mapped_column(String(64))
    #: Unpaid online orders are canceled after this moment.
    payment_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.position", lazy="selectin"
    )
    history: Mapped[list[OrderHistory]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderHistory.id", lazy="selectin"
    )

    __table_args__ = (Index("ix_orders_pending_expiry", "status", "payment_expires_at"),)


class OrderItem(Base):
    """A purchased line; title, SKU, price and fiscal codes as they were at purchase time."""

    __tablename__ = "order_items"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    variant_id: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str] = mapped_column(String(40))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(600))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(Tiyin)
    total: Mapped[int] = mapped_column(Tiyin)
    weight_grams: Mapped[int] = mapped_column(Integer, default=0)
    mxik_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    package_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    vat_percent: Mapped[int | None] = mapped_column(Integer, nullable=True)

    order: Mapped[Order] = relationship(back_populates="items")


class OrderHistory(Base):
    """One change of an order (status, payment, fulfillment), who made it and why."""

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100), default="system")

    order: Mapped[Order] = relationship(back_populates="history")


class Counter(Base):
    """Named monotonic counters (``order_number``); incremented under the row lock."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)

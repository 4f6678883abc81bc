"""Carts and their lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from toolbox_core.db.base import Base, TimestampMixin
from toolbox_core.db.types import JSONType


class Cart(TimestampMixin, Base):
    """A shopper's basket: ``open`` until completed into an order (``completed``) or ``expired``."""

    __tablename__ = "carts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    locale: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Address fields (region, city, district, street, landmark, ...) as JSON.
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    #: The chosen shipping quote, priced on the server: provider_id, option_id, name, amount, data.
    shipping: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    payment_provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartLine.position", lazy="selectin"
    )

    __table_args__ = (CheckConstraint("status in ('open','completed','expired')", name="status"),)


class CartLine(Base):
    """One variant in a cart; the price is read from the catalog each time totals are computed."""

    __tablename__ = "cart_lines"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)

    cart: Mapped[Cart] = relationship(back_populates="lines")

    __table_args__ = (
        UniqueConstraint("cart_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

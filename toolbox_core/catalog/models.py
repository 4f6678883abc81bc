"""Catalog models: products, variants and their per-locale texts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from toolbox_core.db.base import Base, TimestampMixin
from toolbox_core.db.types import JSONType


class Product(TimestampMixin, Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    handle: Mapped[str] = mapped_column(String(200), unique=True)
    #: draft | published | archived; only published products are visible in the store API.
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)

    translations: Mapped[list[ProductTranslation]] = relationship(
        back_populates="product", cascade="all, delete-orphan", lazy="selectin"
    )
    variants: Mapped[list[ProductVariant]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductVariant.position"
    )

    __table_args__ = (
        CheckConstraint("status in ('draft','published','archived')", name="status"),
    )


class ProductTranslation(Base):
    """Customer-facing texts of a product in one locale."""

    __tablename__ = "product_translations"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")

    product: Mapped[Product] = relationship(back_populates="translations")


class ProductVariant(TimestampMixin, Base):
    """A sellable item: one SKU, one price in tiyin."""

    __tablename__ = "product_variants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    barcode: Mapped[str | None] = mapped_column(String(64), nullable=True)
    price: Mapped[int] = mapped_column(Integer)
    compare_at_price: Mapped[int | None] = mapped_column(Integer, nullable=True)
    weight_grams: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: Fiscal data for Uzbek receipts: MXIK (IKPU) code, package code, VAT percent.
    mxik_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    package_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    vat_percent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)

    product: Mapped[Product] = relationship(back_populates="variants")
    translations: Mapped[list[VariantTranslation]] = relationship(
        back_populates="variant", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        CheckConstraint("price >= 0", name="price_non_negative"),
        CheckConstraint("compare_at_price IS NULL OR compare_at_price >= 0", name="compare_at_non_negative"),
        CheckConstraint("weight_grams >= 0", name="weight_non_negative"),
    )


class VariantTranslation(Base):
    """A variant's title in one locale (e.g. "18 V, 2 batteries")."""

    __tablename__ = "variant_translations"

    variant_id: Mapped[str] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))

    variant: Mapped[ProductVariant] = relationship(back_populates="translations")

    __table_args__ = (UniqueConstraint("variant_id", "locale"),)

"""Catalog models: products, variants and their per-locale texts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from toolbox_core.db.base import Base, TimestampMixin, Tiyin
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
    barcode: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    price: Mapped[int] = mapped_column(Tiyin)
    compare_at_price: Mapped[int | None] = mapped_column(Tiyin, nullable=True)
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
    # (variant_id, locale) is the primary key: no separate unique constraint (PostgreSQL
    # skips one identical to the key, which made autogenerate never agree).


# ------------------------------------------------------------------------------ options


class ProductOption(Base):
    """A dimension variants differ by (voltage, size, colour); ``code`` is stable per product."""

    __tablename__ = "product_options"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)

    translations: Mapped[list[ProductOptionTranslation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    values: Mapped[list[ProductOptionValue]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ProductOptionValue.position"
    )

    __table_args__ = (UniqueConstraint("product_id", "code"),)


class ProductOptionTranslation(Base):
    __tablename__ = "product_option_translations"

    option_id: Mapped[str] = mapped_column(ForeignKey("product_options.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class ProductOptionValue(Base):
    """One value of an option (``18v``), with per-locale labels."""

    __tablename__ = "product_option_values"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    option_id: Mapped[str] = mapped_column(ForeignKey("product_options.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)

    translations: Mapped[list[OptionValueTranslation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (UniqueConstraint("option_id", "code"),)


class OptionValueTranslation(Base):
    __tablename__ = "option_value_translations"

    value_id: Mapped[str] = mapped_column(ForeignKey("product_option_values.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class VariantOptionValue(Base):
    """Which option value a variant has, one row per option."""

    __tablename__ = "variant_option_values"

    variant_id: Mapped[str] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"), primary_key=True)
    value_id: Mapped[str] = mapped_column(ForeignKey("product_option_values.id", ondelete="CASCADE"), primary_key=True)


# ------------------------------------------------------------------------------ categories


class Category(TimestampMixin, Base):
    """A node of the category tree (``parent_id`` None for a root)."""

    __tablename__ = "categories"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    handle: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), nullable=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)

    translations: Mapped[list[CategoryTranslation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class CategoryTranslation(Base):
    __tablename__ = "category_translations"

    category_id: Mapped[str] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")


class ProductCategory(Base):
    __tablename__ = "product_categories"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[str] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True, index=True)


# ------------------------------------------------------------------------------ collections


class Collection(TimestampMixin, Base):
    """A hand-picked group of products ("new arrivals", "pro series"); also serves as tags."""

    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    handle: Mapped[str] = mapped_column(String(200), unique=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)

    translations: Mapped[list[CollectionTranslation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class CollectionTranslation(Base):
    __tablename__ = "collection_translations"

    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))


class ProductCollection(Base):
    __tablename__ = "product_collections"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True, index=True)


# ------------------------------------------------------------------------------ images


class ProductImage(TimestampMixin, Base):
    """An image in the storage backend; the URL is built from ``storage_key`` when read."""

    __tablename__ = "product_images"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(300), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    alt: Mapped[str] = mapped_column(String(300), default="")


# ------------------------------------------------------------------------------ read model


class ProductDocument(Base):
    """Denormalized store view of one product in one locale, rebuilt on every catalog write.

    ``doc`` is the JSON the store API returns (without live stock); the other columns are
    what the list endpoint filters and sorts on, so a page is one indexed query.
    """

    __tablename__ = "product_documents"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)
    handle: Mapped[str] = mapped_column(String(200))
    published: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    min_price: Mapped[int] = mapped_column(BigInteger)
    doc: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_product_documents_newest", "locale", "published", "created_at", "product_id"),
        Index("ix_product_documents_price", "locale", "published", "min_price", "product_id"),
        Index("ix_product_documents_handle", "handle", "locale", unique=True),
    )


class SearchEntry(Base):
    """Search text of a product, transliterated to one Latin form (see ``search.text``)."""

    __tablename__ = "catalog_search_entries"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    published: Mapped[bool] = mapped_column(Boolean, index=True)
    text: Mapped[str] = mapped_column(Text)


class CatalogCounter(Base):
    """Counters kept exact on write (``published_products``) so a page needs no COUNT(*)."""

    __tablename__ = "catalog_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class SearchWord(Base):
    """Every normalized word seen in search texts (PostgreSQL expands typo'd queries with it)."""

    __tablename__ = "catalog_search_words"

    word: Mapped[str] = mapped_column(String(100), primary_key=True)

"""Validated input of the admin API and the importer (money strictly in tiyin)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from toolbox_core.money import Tiyin

Handle = Field(min_length=1, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HandleOpt = Field(None, min_length=1, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
Code = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
Status = Literal["draft", "published", "archived"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductText(_In):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=20_000)


class VariantText(_In):
    title: str = Field(min_length=1, max_length=300)


class OptionValueIn(_In):
    code: str = Code
    translations: dict[str, str] = Field(min_length=1)


class OptionIn(_In):
    code: str = Code
    translations: dict[str, str] = Field(min_length=1)
    values: list[OptionValueIn] = Field(min_length=1)


class FiscalIn(_In):
    """Fiscal data of Uzbek receipts: MXIK (IKPU) code, package code, VAT percent."""

    mxik_code: str | None = Field(None, pattern=r"^\d{17}$")
    package_code: str | None = Field(None, pattern=r"^\d{1,20}$")
    vat_percent: StrictInt | None = Field(None, ge=0, le=100)


class VariantIn(FiscalIn):
    sku: str = Field(min_length=1, max_length=100, pattern=r"^\S+$")
    price: Tiyin
    compare_at_price: Tiyin | None = None
    barcode: str | None = Field(None, max_length=64)
    weight_grams: StrictInt = Field(0, ge=0)
    translations: dict[str, VariantText] = Field(default_factory=dict)
    #: option code → value code
    options: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class VariantPatch(_In):
    sku: str | None = Field(None, min_length=1, max_length=100, pattern=r"^\S+$")
    price: Tiyin | None = None
    compare_at_price: Tiyin | None = None
    barcode: str | None = Field(None, max_length=64)
    weight_grams: StrictInt | None = Field(None, ge=0)
    mxik_code: str | None = Field(None, pattern=r"^\d{17}$")
    package_code: str | None = Field(None, pattern=r"^\d{1,20}$")
    vat_percent: StrictInt | None = Field(None, ge=0, le=100)
    translations: dict[str, VariantText] | None = None
    options: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None


class ProductIn(_In):
    handle: str = Handle
    status: Status = "draft"
    translations: dict[str, ProductText] = Field(min_length=1)
    categories: list[str] = Field(default_factory=list, description="Category handles or ids")
    collections: list[str] = Field(default_factory=list, description="Collection handles or ids")
    options: list[OptionIn] = Field(default_factory=list)
    variants: list[VariantIn] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ProductPatch(_In):
    handle: str | None = HandleOpt
    status: Status | None = None
    translations: dict[str, ProductText] | None = None
    categories: list[str] | None = None
    collections: list[str] | None = None
    metadata: dict[str, Any] | None = None


class CategoryText(_In):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)


class CategoryIn(_In):
    handle: str = Handle
    parent: str | None = Field(None, description="Parent handle or id")
    position: StrictInt = 0
    translations: dict[str, CategoryText] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class CategoryPatch(_In):
    handle: str | None = HandleOpt
    parent: str | None = None
    position: StrictInt | None = None
    translations: dict[str, CategoryText] | None = None
    metadata: dict[str, Any] | None = None


class CollectionIn(_In):
    handle: str = Handle
    translations: dict[str, str] = Field(min_length=1, description="locale → title")
    metadata: dict[str, Any] = Field(default_factory=dict)


class CollectionPatch(_In):
    handle: str | None = HandleOpt
    translations: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None

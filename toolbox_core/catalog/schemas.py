"""Validated input of the admin API and the importer (money strictly in tiyin)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from toolbox_core.money import Tiyin

Handle = Field(min_length=1, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HandleOpt = Field(None, min_length=1, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
Code = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
Status = Literal["draft", "published", "archived"]

#: The heaviest variant (1 tonne, in grams): a bound against typos and the 32-bit column.
MAX_WEIGHT_GRAMS = 1_000_000
#: The largest sort position of a category (0 first): far below the 32-bit column's limit.
MAX_POSITION = 1_000_000
#: The largest price (tiyin): 10 billion so'm. Money columns are 64-bit (``db.base.Tiyin``), and
#: a cart's most (``cart.max_lines`` × ``cart.max_quantity_per_line`` at this price) stays far
#: inside them.
MAX_PRICE_TIYIN = 10**12
#: A variant's price or compare-at price: :data:`~toolbox_core.money.Tiyin`, at most MAX_PRICE_TIYIN.
Price = Annotated[Tiyin, Field(le=MAX_PRICE_TIYIN)]
#: A per-locale label (option, option value, collection title): what its column holds.
Label = Annotated[str, StringConstraints(max_length=200)]
#: A category or collection named by its handle or its id (``cat_...``).
HandleOrId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
#: An option or value code (``voltage`` → ``18v``), as :data:`Code` bounds it.
CodeText = Annotated[str, StringConstraints(min_length=1, max_length=100)]
#: Of a product: at most this many categories and collections each.
MAX_LINKS = 100


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductText(_In):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=20_000)


class VariantText(_In):
    title: str = Field(min_length=1, max_length=300)


class OptionValueIn(_In):
    code: str = Code
    translations: dict[str, Label] = Field(min_length=1)


class OptionIn(_In):
    code: str = Code
    translations: dict[str, Label] = Field(min_length=1)
    values: list[OptionValueIn] = Field(min_length=1)


class FiscalIn(_In):
    """Fiscal data of Uzbek receipts: MXIK (IKPU) code, package code, VAT percent."""

    mxik_code: str | None = Field(None, max_length=17, pattern=r"^\d{17}$")
    package_code: str | None = Field(None, max_length=20, pattern=r"^\d{1,20}$")
    vat_percent: StrictInt | None = Field(None, ge=0, le=100)


class VariantIn(FiscalIn):
    sku: str = Field(min_length=1, max_length=100, pattern=r"^\S+$")
    price: Price
    compare_at_price: Price | None = None
    barcode: str | None = Field(None, max_length=64)
    weight_grams: StrictInt = Field(0, ge=0, le=MAX_WEIGHT_GRAMS)
    translations: dict[str, VariantText] = Field(default_factory=dict)
    #: option code → value code
    options: dict[str, CodeText] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class VariantPatch(_In):
    sku: str | None = Field(None, min_length=1, max_length=100, pattern=r"^\S+$")
    price: Price | None = None
    compare_at_price: Price | None = None
    barcode: str | None = Field(None, max_length=64)
    weight_grams: StrictInt | None = Field(None, ge=0, le=MAX_WEIGHT_GRAMS)
    mxik_code: str | None = Field(None, max_length=17, pattern=r"^\d{17}$")
    package_code: str | None = Field(None, max_length=20, pattern=r"^\d{1,20}$")
    vat_percent: StrictInt | None = Field(None, ge=0, le=100)
    translations: dict[str, VariantText] | None = None
    options: dict[str, CodeText] | None = None
    metadata: dict[str, Any] | None = None


class ProductIn(_In):
    handle: str = Handle
    status: Status = "draft"
    translations: dict[str, ProductText] = Field(min_length=1)
    categories: list[HandleOrId] = Field(default_factory=list, max_length=MAX_LINKS, description="Category handles or ids")
    collections: list[HandleOrId] = Field(default_factory=list, max_length=MAX_LINKS, description="Collection handles or ids")
    options: list[OptionIn] = Field(default_factory=list)
    variants: list[VariantIn] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ProductPatch(_In):
    handle: str | None = HandleOpt
    status: Status | None = None
    translations: dict[str, ProductText] | None = None
    categories: list[HandleOrId] | None = Field(None, max_length=MAX_LINKS)
    collections: list[HandleOrId] | None = Field(None, max_length=MAX_LINKS)
    metadata: dict[str, Any] | None = None


class CategoryText(_In):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)


class CategoryIn(_In):
    handle: str = Handle
    parent: HandleOrId | None = Field(None, description="Parent handle or id")
    position: StrictInt = Field(0, ge=0, le=MAX_POSITION)
    translations: dict[str, CategoryText] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class CategoryPatch(_In):
    handle: str | None = HandleOpt
    parent: HandleOrId | None = None
    position: StrictInt | None = Field(None, ge=0, le=MAX_POSITION)
    translations: dict[str, CategoryText] | None = None
    metadata: dict[str, Any] | None = None


class CollectionIn(_In):
    handle: str = Handle
    translations: dict[str, Label] = Field(min_length=1, description="locale → title")
    metadata: dict[str, Any] = Field(default_factory=dict)


class CollectionPatch(_In):
    handle: str | None = HandleOpt
    translations: dict[str, Label] | None = None
    metadata: dict[str, Any] | None = None

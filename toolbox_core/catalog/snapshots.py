"""Read-only snapshots of variants for carts and orders (title, price, weight, fiscal codes).

Cart and order code never touch catalog models directly: they ask for snapshots, which are
loaded in one query whatever the number of variants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ARRAY, BindParameter, bindparam, func, literal_column, select, union_all
from sqlalchemy import any_ as any_of
from sqlalchemy.orm import Session

from toolbox_core.catalog.models import (
    OptionValueTranslation,
    Product,
    ProductOption,
    ProductOptionTranslation,
    ProductOptionValue,
    ProductTranslation,
    ProductVariant,
    VariantOptionValue,
    VariantTranslation,
)
from toolbox_core.inventory.models import InventoryLevel


@dataclass(frozen=True)
class VariantSnapshot:
    """What a cart line or an order item needs to know about a variant, in one locale."""

    variant_id: str
    product_id: str
    sku: str
    title: str
    product_title: str
    variant_title: str | None
    unit_price: int
    #: ``None`` when the catalog has no weight (stored as 0) for the variant.
    weight_grams: int | None
    mxik_code: str | None
    package_code: str | None
    vat_percent: int | None
    published: bool
    #: The variant's chosen options as ``(name, value)`` in option order, in the same locale.
    options: tuple[tuple[str, str], ...] = ()
    #: Asked for with ``holdable_for``: the most one order can hold now (the available stock of
    #: the SKU's best location, as checkout reserves it); else ``None``.
    holdable: int | None = None


# Built once: constructing and cache-keying these per call cost more CPU than running them.
# One round trip: the variants (kind 'r'), the titles of their products ('p') and of themselves
# ('v'), and their chosen options ('o'), padded to the same columns. An 'o' row carries
# option id → product_id, option code → sku, position → price, value code → mxik_code, the
# name's locale → locale, name → title, the value's locale → package_code, value → handle.
_NONE = literal_column("NULL")


def _in(column: Any, values: Any) -> Any:
    """``column IN values``; ``column = ANY(values)`` for an array parameter (PostgreSQL): its SQL
    is the same whatever the list, where an expanding ``IN`` is rendered again at every execution."""
    if isinstance(values, BindParameter) and isinstance(values.type, ARRAY):
        return column == any_of(values)
    return column.in_(values)


def _branches(ids: Any, locales: Any) -> tuple[Any, ...]:
    """The four branches for the variants ``ids`` (an expanding parameter or a subquery) with
    titles and option names in ``locales`` (an expanding parameter, or an array one on PostgreSQL)."""
    options = (
        select(literal_column("'o'"), VariantOptionValue.variant_id, ProductOptionTranslation.locale,
               ProductOptionTranslation.name, ProductOption.id, ProductOption.code, ProductOption.position, _NONE,
               ProductOptionValue.code, OptionValueTranslation.locale, _NONE, _NONE, OptionValueTranslation.value)
        .join(ProductOptionValue, ProductOptionValue.id == VariantOptionValue.value_id)
        .join(ProductOption, ProductOption.id == ProductOptionValue.option_id)
        .outerjoin(ProductOptionTranslation, (ProductOptionTranslation.option_id == ProductOption.id)
                   & _in(ProductOptionTranslation.locale, locales))
        .outerjoin(OptionValueTranslation, (OptionValueTranslation.value_id == ProductOptionValue.id)
                   & _in(OptionValueTranslation.locale, locales))
        .where(VariantOptionValue.variant_id.in_(ids))
    )
    return (
        select(literal_column("'r'").label("kind"), ProductVariant.id.label("owner"), _NONE.label("locale"),
               _NONE.label("title"), ProductVariant.product_id, ProductVariant.sku, ProductVariant.price,
               ProductVariant.weight_grams, ProductVariant.mxik_code, ProductVariant.package_code,
               ProductVariant.vat_percent, Product.status, Product.handle)
        .join(Product, Product.id == ProductVariant.product_id)
        .where(ProductVariant.id.in_(ids)),
        select(literal_column("'p'"), ProductTranslation.product_id, ProductTranslation.locale,
               ProductTranslation.title, *[_NONE] * 9)
        .where(ProductTranslation.product_id.in_(select(ProductVariant.product_id).where(ProductVariant.id.in_(ids)))),
        select(literal_column("'v'"), VariantTranslation.variant_id, VariantTranslation.locale, VariantTranslation.title,
               *[_NONE] * 9)
        .where(VariantTranslation.variant_id.in_(ids)),
        options,
    )


def _stock_branch(stock_ids: Any) -> Any:
    """The stock of some of the variants ('s': variant id → owner, the most at one location → price)."""
    return (select(literal_column("'s'"), ProductVariant.id, *[_NONE] * 4,
                   func.max(InventoryLevel.stocked - InventoryLevel.reserved), *[_NONE] * 6)
            .join(InventoryLevel, InventoryLevel.sku == ProductVariant.sku)
            .where(ProductVariant.id.in_(stock_ids))
            .group_by(ProductVariant.id))


def snapshot_branches(ids: Any, locales: Any, stock_ids: Any = None) -> tuple[Any, ...]:
    """The SELECTs (13 columns each, to ``UNION ALL``) whose rows :func:`snapshots_from_rows` reads:
    for a caller that reads the snapshots in a statement of its own making (the cart's, with the
    variant ids as a subquery of its lines)."""
    branches = _branches(ids, locales)
    return (*branches, _stock_branch(stock_ids)) if stock_ids is not None else branches


_IDS, _LOCALES = bindparam("ids", expanding=True), bindparam("locales", expanding=True)
_SNAPSHOTS = union_all(*_branches(_IDS, _LOCALES))
# With the stock of some of the variants, for a cart line's check without a statement of its own.
_SNAPSHOTS_WITH_STOCK = union_all(*snapshot_branches(_IDS, _LOCALES, bindparam("stock_ids", expanding=True)))


def _pick(titles: dict[str, str], locale: str, default_locale: str) -> str | None:
    if not titles:
        return None
    return titles.get(locale) or titles.get(default_locale) or titles[min(titles)]


def variant_snapshots(
    session: Session, variant_ids: Iterable[str], locale: str, default_locale: str,
    holdable_for: Iterable[str] = (),
) -> dict[str, VariantSnapshot]:
    """Snapshots of the existing variants among ``variant_ids``, keyed by variant id.

    Titles fall back ``locale`` → ``default_locale`` → any; unknown ids are simply absent. The
    snapshots of ``holdable_for`` (some of ``variant_ids``) carry their ``holdable`` stock, read
    in the same statement.
    """
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    stock_ids = sorted(set(holdable_for))
    params: dict[str, list[str]] = {"ids": ids, "locales": sorted({locale, default_locale})}
    if stock_ids:
        params["stock_ids"] = stock_ids
    return snapshots_from_rows(session.execute(_SNAPSHOTS_WITH_STOCK if stock_ids else _SNAPSHOTS, params),
                               locale, default_locale, stock_ids)


def snapshots_from_rows(found: Iterable[Any], locale: str, default_locale: str,
                        stock_ids: Iterable[str] = ()) -> dict[str, VariantSnapshot]:
    """The snapshots in the rows of :func:`snapshot_branches` (titles in ``locale``, falling back
    to ``default_locale``, then any; option names and values only in those two, whatever
    ``locales`` the rows were read in); ``stock_ids``: the variants whose stock was read."""
    stock_ids = set(stock_ids)
    rows = []
    holdable: dict[str, int] = {}
    titles: dict[tuple[str, str], dict[str, str]] = {}
    chosen: dict[str, dict[str, _ChosenOption]] = {}
    wanted = {locale, default_locale}
    for row in found:
        if row.kind == "r":
            rows.append(row)
        elif row.kind == "s":
            holdable[row.owner] = max(0, int(row.price or 0))
        elif row.kind == "o":
            option = chosen.setdefault(row.owner, {}).setdefault(
                row.product_id, _ChosenOption(int(row.price), row.sku, row.mxik_code))
            if row.locale in wanted:
                option.names[row.locale] = row.title
            if row.package_code in wanted:
                option.values[row.package_code] = row.handle
        else:
            titles.setdefault((row.kind, row.owner), {})[row.locale] = row.title
    result: dict[str, VariantSnapshot] = {}
    for r in rows:
        product_title = _pick(titles.get(("p", r.product_id), {}), locale, default_locale) or r.handle
        variant_title = _pick(titles.get(("v", r.owner), {}), locale, default_locale)
        result[r.owner] = VariantSnapshot(
            variant_id=r.owner,
            product_id=r.product_id,
            sku=r.sku,
            title=f"{product_title} — {variant_title}" if variant_title else product_title,
            product_title=product_title,
            variant_title=variant_title,
            unit_price=r.price,
            weight_grams=r.weight_grams or None,
            mxik_code=r.mxik_code,
            package_code=r.package_code,
            vat_percent=r.vat_percent,
            published=r.status == "published",
            options=_named(chosen.get(r.owner, {}), locale, default_locale),
            holdable=holdable.get(r.owner, 0) if r.owner in stock_ids else None,
        )
    return result


@dataclass
class _ChosenOption:
    position: int
    code: str
    value_code: str
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)


def _named(options: dict[str, _ChosenOption], locale: str, default_locale: str) -> tuple[tuple[str, str], ...]:
    """``(name, value)`` per option in option order; names fall back ``locale`` → ``default_locale`` → code."""
    return tuple((_pick(o.names, locale, default_locale) or o.code, _pick(o.values, locale, default_locale) or o.value_code)
                 for o in sorted(options.values(), key=lambda o: (o.position, o.code)))

"""What the admin API returns: every translation, drafts included."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolbox_core.catalog import models as m
from toolbox_core.catalog.storage import Storage
from toolbox_core.schemas import iso_utc


def product_view(session: Session, product: m.Product, storage: Storage) -> dict[str, Any]:
    """The admin JSON of one product."""
    return product_views(session, [product], storage)[0]


def product_views(session: Session, products: Sequence[m.Product], storage: Storage) -> list[dict[str, Any]]:
    """The admin JSON of ``products``, loaded with a fixed number of queries whatever their count."""
    ids = [p.id for p in products]
    if not ids:
        return []
    cats = _linked_handles(session, m.ProductCategory.category_id, m.Category, ids)
    cols = _linked_handles(session, m.ProductCollection.collection_id, m.Collection, ids)
    options: dict[str, list[m.ProductOption]] = defaultdict(list)
    value_codes: dict[str, tuple[str, str]] = {}
    for o in session.scalars(select(m.ProductOption).where(m.ProductOption.product_id.in_(ids)).order_by(m.ProductOption.position)):
        options[o.product_id].append(o)
        for v in o.values:
            value_codes[v.id] = (o.code, v.code)
    variants: dict[str, list[m.ProductVariant]] = defaultdict(list)
    for v in session.scalars(select(m.ProductVariant).where(m.ProductVariant.product_id.in_(ids)).order_by(m.ProductVariant.position)):
        variants[v.product_id].append(v)
    chosen: dict[str, dict[str, str]] = {}
    for vid, value_id in session.execute(
        select(m.VariantOptionValue.variant_id, m.VariantOptionValue.value_id)
        .join(m.ProductVariant, m.ProductVariant.id == m.VariantOptionValue.variant_id)
        .where(m.ProductVariant.product_id.in_(ids))
    ):
        opt, val = value_codes[value_id]
        chosen.setdefault(vid, {})[opt] = val
    images: dict[str, list[m.ProductImage]] = defaultdict(list)
    for i in session.scalars(select(m.ProductImage).where(m.ProductImage.product_id.in_(ids)).order_by(m.ProductImage.position)):
        images[i.product_id].append(i)
    return [
        {
            "id": product.id,
            "handle": product.handle,
            "status": product.status,
            "translations": {t.locale: {"title": t.title, "description": t.description} for t in product.translations},
            "categories": cats[product.id],
            "collections": cols[product.id],
            "options": [
                {
                    "code": o.code,
                    "translations": {t.locale: t.name for t in o.translations},
                    "values": [{"code": v.code, "translations": {t.locale: t.value for t in v.translations}} for v in o.values],
                }
                for o in options[product.id]
            ],
            "variants": [variant_view(v, chosen.get(v.id, {})) for v in variants[product.id]],
            "images": [
                {"id": i.id, "url": storage.url(i.storage_key), "width": i.width, "height": i.height,
                 "content_type": i.content_type, "alt": i.alt}
                for i in images[product.id]
            ],
            "metadata": product.metadata_ or {},
            "created_at": iso_utc(product.created_at),
            "updated_at": iso_utc(product.updated_at),
        }
        for product in products
    ]


def _linked_handles(session: Session, link: Any, target: Any, product_ids: list[str]) -> dict[str, list[str]]:
    """``{product id: [handle]}`` of the categories or collections linked through ``link``."""
    out: dict[str, list[str]] = defaultdict(list)
    product_id = link.class_.product_id
    for pid, handle in session.execute(
        select(product_id, target.handle).join(target, link == target.id).where(product_id.in_(product_ids))
    ):
        out[pid].append(handle)
    return out


def variant_options(session: Session, variant_id: str) -> dict[str, str]:
    """``{option code: value code}`` chosen by one variant."""
    rows = session.execute(
        select(m.ProductOption.code, m.ProductOptionValue.code)
        .join(m.ProductOptionValue, m.ProductOptionValue.option_id == m.ProductOption.id)
        .join(m.VariantOptionValue, m.VariantOptionValue.value_id == m.ProductOptionValue.id)
        .where(m.VariantOptionValue.variant_id == variant_id)
    )
    return {option: value for option, value in rows}


def variant_view(v: m.ProductVariant, options: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": v.id, "product_id": v.product_id, "sku": v.sku, "barcode": v.barcode, "price": v.price,
        "compare_at_price": v.compare_at_price, "weight_grams": v.weight_grams, "position": v.position,
        "mxik_code": v.mxik_code, "package_code": v.package_code, "vat_percent": v.vat_percent,
        "translations": {t.locale: {"title": t.title} for t in v.translations},
        "options": options or {}, "metadata": v.metadata_ or {},
    }


def category_view(c: m.Category) -> dict[str, Any]:
    return {
        "id": c.id, "handle": c.handle, "parent_id": c.parent_id, "position": c.position,
        "translations": {t.locale: {"name": t.name, "description": t.description} for t in c.translations},
        "metadata": c.metadata_ or {},
    }


def collection_view(c: m.Collection) -> dict[str, Any]:
    return {"id": c.id, "handle": c.handle, "translations": {t.locale: t.title for t in c.translations}, "metadata": c.metadata_ or {}}

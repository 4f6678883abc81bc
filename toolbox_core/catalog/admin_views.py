"""What the admin API returns: every translation, drafts included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolbox_core.catalog import models as m
from toolbox_core.catalog.storage import Storage


def product_view(session: Session, product: m.Product, storage: Storage) -> dict[str, Any]:
    cats = session.scalars(
        select(m.Category.handle).join(m.ProductCategory, m.ProductCategory.category_id == m.Category.id)
        .where(m.ProductCategory.product_id == product.id)
    ).all()
    cols = session.scalars(
        select(m.Collection.handle).join(m.ProductCollection, m.ProductCollection.collection_id == m.Collection.id)
        .where(m.ProductCollection.product_id == product.id)
    ).all()
    options = session.scalars(select(m.ProductOption).where(m.ProductOption.product_id == product.id).order_by(m.ProductOption.position)).all()
    value_codes: dict[str, tuple[str, str]] = {}
    for o in options:
        for v in o.values:
            value_codes[v.id] = (o.code, v.code)
    links = session.execute(
        select(m.VariantOptionValue.variant_id, m.VariantOptionValue.value_id)
        .join(m.ProductVariant, m.ProductVariant.id == m.VariantOptionValue.variant_id)
        .where(m.ProductVariant.product_id == product.id)
    ).all()
    chosen: dict[str, dict[str, str]] = {}
    for vid, value_id in links:
        opt, val = value_codes[value_id]
        chosen.setdefault(vid, {})[opt] = val
    images = session.scalars(select(m.ProductImage).where(m.ProductImage.product_id == product.id).order_by(m.ProductImage.position)).all()
    return {
        "id": product.id,
        "handle": product.handle,
        "status": product.status,
        "translations": {t.locale: {"title": t.title, "description": t.description} for t in product.translations},
        "categories": list(cats),
        "collections": list(cols),
        "options": [
            {
                "code": o.code,
                "translations": {t.locale: t.name for t in o.translations},
                "values": [{"code": v.code, "translations": {t.locale: t.value for t in v.translations}} for v in o.values],
            }
            for o in options
        ],
        "variants": [variant_view(v, chosen.get(v.id, {})) for v in product.variants],
        "images": [
            {"id": i.id, "url": storage.url(i.storage_key), "width": i.width, "height": i.height,
             "content_type": i.content_type, "alt": i.alt}
            for i in images
        ],
        "metadata": product.metadata_ or {},
        "created_at": product.created_at.isoformat(),
        "updated_at": product.updated_at.isoformat(),
    }


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

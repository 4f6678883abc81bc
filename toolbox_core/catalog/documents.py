"""The store read model: one JSON document per product and locale, plus its search text.

Every catalog write calls :func:`refresh_documents` in its transaction, so the store API
reads a page of products with one indexed query and never walks the ORM graph. Anything else
that changes the documents (a product deleted: cascade) calls :func:`new_version_on_commit`,
so the per-process page caches (:mod:`.cache`) see the change.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.orm import Session

from toolbox_core.catalog import models as m
from toolbox_core.catalog.cache import VERSION_COUNTER, note_local_write
from toolbox_core.catalog.search.text import normalize
from toolbox_core.db.upsert import insert_ignoring, upsert
from toolbox_core.i18n import pick_translation
from toolbox_core.schemas import iso_utc

CURRENCY = "UZS"
#: Image URLs are stored as ``tbx-media://<key>`` and resolved by the storage when read.
MEDIA_PREFIX = "tbx-media://"


def _by(rows: Iterable[Any], key: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        out[getattr(row, key)].append(row)
    return out


def _text(rows: Sequence[Any], locale: str, default: str, attr: str) -> str:
    chosen = pick_translation(rows, locale, default)
    return getattr(chosen, attr) if chosen is not None else ""


class _Batch:
    """Everything needed to render a set of products, loaded with one query per table."""

    def __init__(self, session: Session, product_ids: list[str]) -> None:
        ids = product_ids
        self.products = session.scalars(select(m.Product).where(m.Product.id.in_(ids))).all()
        self.ptexts = _rows_by(session, m.ProductTranslation, "product_id", ids)
        variants = _rows(session, m.ProductVariant, "product_id", ids, m.ProductVariant.position, m.ProductVariant.sku)
        self.variants = _by(variants, "product_id")
        vids = [v.id for v in variants]
        self.vtexts = _rows_by(session, m.VariantTranslation, "variant_id", vids)
        options = _rows(session, m.ProductOption, "product_id", ids, m.ProductOption.position)
        self.options = _by(options, "product_id")
        oids = [o.id for o in options]
        self.otexts = _rows_by(session, m.ProductOptionTranslation, "option_id", oids)
        values = _rows(session, m.ProductOptionValue, "option_id", oids, m.ProductOptionValue.position)
        self.values = _by(values, "option_id")
        self.value_by_id = {v.id: v for v in values}
        self.valtexts = _rows_by(session, m.OptionValueTranslation, "value_id", list(self.value_by_id))
        self.variant_values = _rows_by(session, m.VariantOptionValue, "variant_id", vids)
        links = _rows(session, m.ProductCategory, "product_id", ids)
        self.product_categories = _by(links, "product_id")
        cids = list({link.category_id for link in links})
        self.categories = {c.id: c for c in _rows(session, m.Category, "id", cids, m.Category.position)}
        self.ctexts = _rows_by(session, m.CategoryTranslation, "category_id", cids)
        clinks = _rows(session, m.ProductCollection, "product_id", ids)
        self.product_collections = _by(clinks, "product_id")
        colids = list({link.collection_id for link in clinks})
        self.collections = {c.id: c for c in _rows(session, m.Collection, "id", colids)}
        self.coltexts = _rows_by(session, m.CollectionTranslation, "collection_id", colids)
        self.images = _rows_by(session, m.ProductImage, "product_id", ids, m.ProductImage.position, m.ProductImage.id)


def _rows(session: Session, model: Any, column: str, ids: Sequence[str], *order_by: Any) -> Sequence[Any]:
    """Plain rows of ``model``'s table whose ``column`` is in ``ids`` (no query when empty)."""
    if not ids:
        return []
    return session.execute(select(model.__table__).where(getattr(model, column).in_(ids)).order_by(*order_by)).all()


def _rows_by(session: Session, model: Any, column: str, ids: Sequence[str], *order_by: Any) -> dict[str, list[Any]]:
    """:func:`_rows` grouped by ``column``."""
    return _by(_rows(session, model, column, ids, *order_by), column)


def render(batch: _Batch, product: m.Product, locale: str, default: str) -> dict[str, Any]:
    """The store JSON of ``product`` in ``locale`` (fallback to ``default``; never empty)."""
    pid = product.id
    title = _text(batch.ptexts[pid], locale, default, "title") or product.handle
    options = []
    for opt in batch.options.get(pid, []):
        options.append({
            "code": opt.code,
            "name": _text(batch.otexts.get(opt.id, []), locale, default, "name") or opt.code,
            "values": [
                {"code": v.code, "value": _text(batch.valtexts.get(v.id, []), locale, default, "value") or v.code}
                for v in batch.values.get(opt.id, [])
            ],
        })
    labels = {v["code"]: v["value"] for o in options for v in o["values"]}
    option_code = {o.id: o.code for o in batch.options.get(pid, [])}
    variants = []
    for v in batch.variants.get(pid, []):
        chosen = {}
        for link in batch.variant_values.get(v.id, []):
            value = batch.value_by_id.get(link.value_id)
            if value is not None:
                chosen[option_code[value.option_id]] = value.code
        vtitle = _text(batch.vtexts.get(v.id, []), locale, default, "title")
        if not vtitle:
            vtitle = " / ".join(labels.get(code, code) for code in chosen.values()) or title
        variants.append({
            "id": v.id, "sku": v.sku, "title": vtitle, "price": v.price,
            "compare_at_price": v.compare_at_price, "barcode": v.barcode,
            "weight_grams": v.weight_grams, "mxik_code": v.mxik_code,
            "package_code": v.package_code, "vat_percent": v.vat_percent, "options": chosen,
        })
    categories = []
    for link in batch.product_categories.get(pid, []):
        c = batch.categories[link.category_id]
        categories.append({"id": c.id, "handle": c.handle, "name": _text(batch.ctexts.get(c.id, []), locale, default, "name") or c.handle})
    collections = []
    for link in batch.product_collections.get(pid, []):
        c = batch.collections[link.collection_id]
        collections.append({"id": c.id, "handle": c.handle, "title": _text(batch.coltexts.get(c.id, []), locale, default, "title") or c.handle})
    prices = [v["price"] for v in variants] or [0]
    return {
        "id": pid,
        "handle": product.handle,
        "title": title,
        "description": _text(batch.ptexts[pid], locale, default, "description"),
        "created_at": iso_utc(product.created_at),
        "categories": categories,
        "collections": collections,
        "options": options,
        "variants": variants,
        "images": [
            {"id": i.id, "url": MEDIA_PREFIX + i.storage_key, "width": i.width, "height": i.height, "alt": i.alt or title}
            for i in batch.images.get(pid, [])
        ],
        "price": {"min": min(prices), "max": max(prices), "currency": CURRENCY},
        "metadata": product.metadata_ or {},
    }


def search_text(batch: _Batch, product: m.Product) -> str:
    """Every customer-facing name of the product in every locale, normalized for search."""
    pid = product.id
    parts = [product.handle.replace("-", " ")]
    parts += [t.title for t in batch.ptexts[pid]]
    for v in batch.variants.get(pid, []):
        parts.append(v.sku)
        parts += [t.title for t in batch.vtexts.get(v.id, [])]
    for link in batch.product_categories.get(pid, []):
        parts += [t.name for t in batch.ctexts.get(link.category_id, [])]
    for link in batch.product_collections.get(pid, []):
        parts += [t.title for t in batch.coltexts.get(link.collection_id, [])]
    for opt in batch.options.get(pid, []):
        for value in batch.values.get(opt.id, []):
            parts += [t.value for t in batch.valtexts.get(value.id, [])]
    seen: dict[str, None] = {}
    for word in normalize(" ".join(parts)).split():
        seen.setdefault(word, None)
    return " ".join(seen)


def refresh_documents(session: Session, product_ids: Iterable[str], locales: Sequence[str], default: str) -> None:
    """Rebuild the store documents and search entries of ``product_ids`` in this transaction
    (and give the catalog a new version when it commits: see :mod:`.cache`)."""
    ids = list(dict.fromkeys(product_ids))
    if ids:
        new_version_on_commit(session)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.flush()
        batch = _Batch(session, chunk)
        before = session.scalar(
            select(func.count()).where(m.SearchEntry.product_id.in_(chunk), m.SearchEntry.published.is_(True))
        ) or 0
        session.execute(delete(m.ProductDocument).where(m.ProductDocument.product_id.in_(chunk)))
        session.execute(delete(m.SearchEntry).where(m.SearchEntry.product_id.in_(chunk)))
        docs, entries = [], []
        for product in batch.products:
            published = product.status == "published"
            for locale in locales:
                doc = render(batch, product, locale, default)
                docs.append({
                    "product_id": product.id, "locale": locale, "handle": product.handle,
                    "published": published, "created_at": product.created_at,
                    "min_price": doc["price"]["min"],
                    "doc": json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
                })
            entries.append({"product_id": product.id, "published": published, "text": search_text(batch, product)})
        if docs:
            session.execute(insert(m.ProductDocument), docs)
            session.execute(insert(m.SearchEntry), entries)
            _add_words(session, entries)
        after = sum(1 for e in entries if e["published"])
        if after != before:
            add_to_counter(session, PUBLISHED_COUNTER, after - before)


PUBLISHED_COUNTER = "published_products"


def new_version_on_commit(session: Session) -> None:
    """Set a new random catalog version as the last statement of this transaction (once).

    Random, not incremented: a database restored or recreated never repeats a version some
    process has cached pages under. Last, so the row lock is held only until the commit.
    Once committed, this process's cached pages stop being fresh (:func:`.cache.note_local_write`):
    its own writes show at once; other processes see them within ``store_fresh_seconds``.
    """
    if session.info.get("catalog_version_pending"):
        return
    session.info["catalog_version_pending"] = True

    def bump(session: Session) -> None:
        session.info.pop("catalog_version_pending", None)
        set_counter(session, VERSION_COUNTER, secrets.randbits(62) + 1)
        pool = session.get_bind().pool
        event.listen(session, "after_commit", lambda _session: note_local_write(pool), once=True)

    event.listen(session, "before_commit", bump, once=True)


def set_counter(session: Session, name: str, value: int) -> None:
    """Insert or overwrite counter ``name`` (one upsert on SQLite and PostgreSQL)."""
    table = m.CatalogCounter.__table__
    session.execute(upsert(session.get_bind().dialect, table, {"name": name, "value": value},
                           conflict=[table.c.name], update={"value": value}))


def _add_words(session: Session, entries: list[dict[str, Any]]) -> None:
    """Record new words for PostgreSQL's typo expansion (words are never removed: harmless)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    words = sorted({w for e in entries for w in e["text"].split() if len(w) <= 100})
    if words:
        session.execute(insert_ignoring("postgresql", m.SearchWord), [{"word": w} for w in words])


def add_to_counter(session: Session, name: str, delta: int) -> None:
    """Atomically add ``delta`` to a counter (row lock on PostgreSQL, writer lock on SQLite)."""
    updated = session.execute(
        update(m.CatalogCounter).where(m.CatalogCounter.name == name).values(value=m.CatalogCounter.value + delta)
    ).rowcount
    if not updated:
        session.add(m.CatalogCounter(name=name, value=delta))
        session.flush()


def product_ids_in_categories(session: Session, category_ids: Iterable[str]) -> list[str]:
    ids = list(category_ids)
    return list(session.scalars(select(m.ProductCategory.product_id).where(m.ProductCategory.category_id.in_(ids)).distinct()))


def product_ids_in_collections(session: Session, collection_ids: Iterable[str]) -> list[str]:
    ids = list(collection_ids)
    return list(session.scalars(select(m.ProductCollection.product_id).where(m.ProductCollection.collection_id.in_(ids)).distinct()))

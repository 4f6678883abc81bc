"""Meilisearch backend (official ``meilisearch`` client), kept in sync by ``product.*`` events.

Only published products are indexed. Each document carries the titles in every locale plus
the normalized Latin text and its Cyrillic spelling (see :mod:`.text`), so a query in either
script finds both; queries are normalized the same way before they are sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolbox_core.catalog import models as m
from toolbox_core.catalog.search.text import normalize, to_cyrillic

INDEX_SETTINGS: dict[str, Any] = {
    "searchableAttributes": ["text_latin", "text_cyrillic", "titles", "sku"],
    "filterableAttributes": ["category_ids", "collection_ids", "price_min", "price_max", "handle"],
    "sortableAttributes": ["price_min", "created_at"],
    "typoTolerance": {"enabled": True},
}
TASK_TIMEOUT_MS = 30_000


class MeiliSearch:
    """Search and indexing against one Meilisearch index (``<index_prefix>products``)."""

    name = "meilisearch"

    def __init__(self, settings: Any) -> None:
        import meilisearch

        cfg = settings.search
        key = cfg.meilisearch_api_key.get_secret_value() if cfg.meilisearch_api_key else None
        self.client = meilisearch.Client(cfg.meilisearch_url, key, timeout=10)
        self.uid = f"{cfg.index_prefix}products"
        self.default_locale = settings.default_locale

    @property
    def index(self) -> Any:
        return self.client.index(self.uid)

    def wait(self, task: Any) -> Any:
        done = self.client.wait_for_task(task.task_uid, timeout_in_ms=TASK_TIMEOUT_MS)
        if done.status != "succeeded":
            raise RuntimeError(f"Meilisearch task {done.uid} {done.status}: {done.error}")
        return done

    def ensure_index(self) -> None:
        """Create the index if missing and apply the settings (waits for both tasks)."""
        from meilisearch.errors import MeilisearchApiError

        try:
            self.client.get_index(self.uid)
        except MeilisearchApiError as exc:
            if getattr(exc, "code", None) != "index_not_found":
                raise
            self.wait(self.client.create_index(self.uid, {"primaryKey": "id"}))
        self.wait(self.index.update_settings(INDEX_SETTINGS))

    # ---------------------------------------------------------------- writes
    def upsert(self, documents: list[dict[str, Any]]) -> Any:
        return self.index.add_documents(documents, primary_key="id")

    def remove(self, product_id: str) -> Any:
        return self.index.delete_document(product_id)

    def clear(self) -> Any:
        return self.index.delete_all_documents()

    # ---------------------------------------------------------------- reads
    def query(self, q: str, *, filter: str | list[Any] | None = None, sort: list[str] | None = None,
              limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """A raw Meilisearch search (normalized query), for callers that filter and sort there."""
        params: dict[str, Any] = {"limit": limit, "offset": offset, "attributesToRetrieve": ["id"]}
        if filter:
            params["filter"] = filter
        if sort:
            params["sort"] = sort
        return self.index.search(normalize(q), params)

    def search(self, session: Any, query: str, limit: int = 200) -> list[str]:
        if not normalize(query):
            return []
        return [hit["id"] for hit in self.query(query, limit=limit)["hits"]]


def documents_for(session: Session, product_ids: Iterable[str], default_locale: str) -> dict[str, dict[str, Any] | None]:
    """Meilisearch documents of published products (``None`` for the others)."""
    ids = list(product_ids)
    out: dict[str, dict[str, Any] | None] = dict.fromkeys(ids)
    entries = {e.product_id: e for e in session.scalars(select(m.SearchEntry).where(m.SearchEntry.product_id.in_(ids)))}
    rows = session.execute(
        select(m.ProductDocument.product_id, m.ProductDocument.locale, m.ProductDocument.doc, m.ProductDocument.created_at)
        .where(m.ProductDocument.product_id.in_(ids), m.ProductDocument.published.is_(True))
    ).all()
    for pid, locale, raw, created_at in rows:
        entry = entries.get(pid)
        if entry is None:
            continue
        doc = json.loads(raw)
        item = out[pid] or {
            "id": pid, "handle": doc["handle"], "titles": [], "sku": [v["sku"] for v in doc["variants"]],
            "text_latin": entry.text, "text_cyrillic": to_cyrillic(entry.text),
            "category_ids": [c["id"] for c in doc["categories"]],
            "collection_ids": [c["id"] for c in doc["collections"]],
            "price_min": doc["price"]["min"], "price_max": doc["price"]["max"],
            "created_at": int(created_at.timestamp()),
        }
        item[f"title_{locale}"] = doc["title"]
        item["titles"].append(doc["title"])
        out[pid] = item
    return out


def sync_product_event(event: Any, toolbox: Any) -> None:
    """``product.*`` subscriber: upsert a published product, remove any other (idempotent)."""
    from toolbox_core.catalog.search import get_search

    backend = get_search(toolbox)
    if not isinstance(backend, MeiliSearch):
        return
    product_id = event.payload["product_id"]
    doc = None
    if event.name != "product.deleted":
        with toolbox.db.session() as session:
            doc = documents_for(session, [product_id], toolbox.settings.default_locale)[product_id]
    # Outside the session: no outside call with a database transaction open.
    backend.wait(backend.upsert([doc]) if doc else backend.remove(product_id))


def reindex_meilisearch(toolbox: Any, backend: MeiliSearch, progress: Callable[[int], None] | None = None, batch: int = 1000) -> int:
    """Recreate the index's settings and documents from the database; returns documents sent."""
    backend.ensure_index()
    backend.wait(backend.clear())
    with toolbox.db.session() as session:
        ids = list(session.scalars(select(m.SearchEntry.product_id).where(m.SearchEntry.published.is_(True)).order_by(m.SearchEntry.product_id)))
    sent = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with toolbox.db.session() as session:
            docs = [d for d in documents_for(session, chunk, toolbox.settings.default_locale).values() if d]
        if docs:
            backend.wait(backend.upsert(docs))
        sent += len(docs)
        if progress:
            progress(len(chunk))
    return sent

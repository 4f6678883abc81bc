"""Catalog search: the database backend by default, Meilisearch when configured."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from toolbox_core.catalog.search.text import normalize

#: Longest SKU / barcode looked up exactly (the column widths).
_EXACT_MAX = 100


class SearchBackend(Protocol):
    name: str

    def search(self, session: Connection, query: str, limit: int = 200) -> list[str]:
        """Product ids of published products matching ``query``, best first."""


def get_search(toolbox: Any) -> SearchBackend:
    """The configured backend (one per process and settings)."""
    cached = getattr(toolbox, "_catalog_search", None)
    if cached is None:
        if toolbox.settings.search.meilisearch_url:
            from toolbox_core.catalog.search.meili import MeiliSearch

            cached = MeiliSearch(toolbox.settings)
        else:
            from toolbox_core.catalog.search.database import DatabaseSearch

            cached = DatabaseSearch()
        toolbox._catalog_search = cached
    return cached


def ranked_ids(toolbox: Any, session: Connection, query: str) -> list[str]:
    """Product ids for ``query``, best first: exact SKU / barcode matches, then the backend's.

    A backend with ``search_with_codes`` (the database one on PostgreSQL) looks the codes up
    in the same statement as its first step, saving a round trip per search.
    """
    backend = get_search(toolbox)
    combined = getattr(backend, "search_with_codes", None)
    if combined is not None and session.dialect.name == "postgresql":
        return combined(session, query)
    return list(dict.fromkeys([*exact_matches(session, query), *backend.search(session, query)]))


@lru_cache(maxsize=1024)
def query_key(query: str) -> tuple[str, str | None]:
    """What :func:`ranked_ids` answers ``query`` from: its words as the backend searches them
    (:func:`.text.normalize`: case, spacing, Unicode forms and spellings folded) and the code
    it looks up exactly (:func:`exact_code`, case kept: a SKU may be lower-case). Queries with
    the same key get the same ids, so a cache may share their results. Cached: the store's
    fresh path keys every search request with it (normalizing costs 3-10 µs)."""
    return normalize(query), exact_code(query)


def exact_code(query: str) -> str | None:
    """``query`` as a code to look up exactly, or None when it cannot be one (blank, too
    long, or holding a space)."""
    code = query.strip()
    if not code or len(code) > _EXACT_MAX or " " in code:
        return None
    return code


def exact_matches(session: Connection, query: str) -> list[str]:
    """Product ids whose variant SKU (as typed or upper-cased) or barcode is exactly ``query``.

    Shop staff and scanners search by code; normalization splits ``TB-DR18`` into two words
    and drops nothing useful, so codes are looked up exactly first, by index, and rank first.
    """
    code = exact_code(query)
    if code is None:
        return []
    rows = session.execute(_exact_statement(), {"code": code, "upper": code.upper()}).scalars().all()
    return list(dict.fromkeys(rows))


@lru_cache(maxsize=1)
def _exact_statement() -> Any:
    """Prebuilt (compiled once): building the union per search cost ~1 ms of CPU."""
    from toolbox_core.catalog.models import ProductVariant as V

    return select(V.product_id).where(V.sku.in_([bindparam("code"), bindparam("upper")])).union(
        select(V.product_id).where(V.barcode == bindparam("code"))
    )

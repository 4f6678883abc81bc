"""Catalog search: the database backend by default, Meilisearch when configured."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.engine import Connection


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

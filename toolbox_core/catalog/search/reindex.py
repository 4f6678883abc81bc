"""``toolbox search reindex``: rebuild the store documents and the search index, with progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from toolbox_core.catalog import models as m
from toolbox_core.catalog.search import get_search
from toolbox_core.catalog.search.ddl import rebuild_sqlite_index
from toolbox_core.catalog.service import Catalog


def rebuild_documents(toolbox: Any, progress: Callable[[int], None] | None = None, batch: int = 500) -> int:
    """Re-render every product's store documents and search text (after a locale change, say)."""
    catalog = Catalog(toolbox)
    with toolbox.db.session() as session:
        ids = list(session.scalars(select(m.Product.id).order_by(m.Product.id)))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with toolbox.db.transaction() as session:
            catalog.refresh(session, chunk)
        if progress:
            progress(len(chunk))
    rebuild_sqlite_index(toolbox.db.engine)
    return len(ids)


def run_reindex_cli(toolbox: Any) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from toolbox_core.catalog.search.meili import MeiliSearch, reindex_meilisearch

    console = Console()
    with toolbox.db.session() as session:
        total = session.query(m.Product).count()
    backend = get_search(toolbox)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("database index", total=total)
        rebuild_documents(toolbox, lambda n: bar.advance(task, n))
        if isinstance(backend, MeiliSearch):
            with toolbox.db.session() as session:
                published = session.query(m.SearchEntry).filter(m.SearchEntry.published.is_(True)).count()
            mtask = bar.add_task("meilisearch", total=published)
            sent = reindex_meilisearch(toolbox, backend, lambda n: bar.advance(mtask, n))
            console.print(f"meilisearch index {backend.uid}: {sent} documents")
    console.print(f"reindexed {total} products ({backend.name} search)")

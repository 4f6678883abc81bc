"""Built-in plugin: the catalog (store and admin APIs, search, images, CLI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from toolbox_core.errors import NotFound
from toolbox_core.events.types import EventType, Subscriber
from toolbox_core.plugins import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import typer

PLUGIN_NAME = "core.catalog"

_PRODUCT_PAYLOAD = {
    "product_id": "Id of the product",
    "handle": "URL handle of the product",
    "status": "draft | published | archived (after the change)",
}


@hookimpl
def register_routes(toolbox: Any) -> list[APIRouter]:
    from toolbox_core.catalog.admin_api import build_router as admin_router
    from toolbox_core.catalog.store_api import build_router as store_router

    routers = [store_router(), admin_router()]
    cfg = toolbox.settings.storage
    if cfg.backend == "local" and cfg.local_base_url.startswith("/"):
        routers.append(_media_router(toolbox, cfg.local_base_url.rstrip("/")))
    return routers


def _media_router(toolbox: Any, base: str) -> APIRouter:
    """Serves local-storage files (embedded mode) under ``storage.local_base_url``."""
    router = APIRouter(prefix=base, tags=["media"])

    @router.get("/{key:path}", include_in_schema=False)
    def media(key: str) -> FileResponse:
        from toolbox_core.catalog.storage import get_storage

        try:
            path = get_storage(toolbox).path(key)  # type: ignore[attr-defined]
        except FileNotFoundError:
            raise NotFound("file not found") from None
        if not path.is_file():
            raise NotFound("file not found")
        # nosniff: a browser renders the file only as its declared type, never as HTML.
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable",
                                           "X-Content-Type-Options": "nosniff"})

    return router


@hookimpl
def after_migrate(engine: Any) -> None:
    """Search objects the models do not describe (SQLite FTS5 table and triggers, pg_trgm)."""
    from toolbox_core.catalog.search.ddl import ensure_search_objects

    ensure_search_objects(engine)


@hookimpl
def event_types() -> list[EventType]:
    return [
        EventType("product.created", "A product was created (any status).", dict(_PRODUCT_PAYLOAD)),
        EventType("product.updated", "A product, its variants, texts, images or links changed.", dict(_PRODUCT_PAYLOAD)),
        EventType("product.deleted", "A product was deleted.", dict(_PRODUCT_PAYLOAD)),
    ]


@hookimpl
def event_subscribers(toolbox: Any) -> list[Subscriber]:
    if not toolbox.settings.search.meilisearch_url:
        return []
    from toolbox_core.catalog.search.meili import sync_product_event

    return [Subscriber(name="catalog.meilisearch_sync", events=("product.*",), handler=sync_product_event)]


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    from toolbox_core.catalog.cli import admin_cli, catalog_cli, demo_command, search_cli

    cli.add_typer(admin_cli, name="admin")
    cli.add_typer(catalog_cli, name="catalog")
    cli.add_typer(search_cli, name="search")
    cli.command("demo")(demo_command)

"""Built-in plugin: the catalog (store and admin APIs, search, images, CLI)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from fastapi import APIRouter
from fastapi.responses import FileResponse

from toolbox_core.errors import NotFound
from toolbox_core.events.types import EventType, Subscriber
from toolbox_core.plugins import hookimpl

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
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})

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


# ------------------------------------------------------------------------------ CLI


def _toolbox() -> Any:
    from toolbox_core.cli.main import open_toolbox

    return open_toolbox()


admin_cli = typer.Typer(help="Admin API access.", no_args_is_help=True)
keys_cli = typer.Typer(help="Admin API keys (stored hashed; the key is shown once).", no_args_is_help=True)
admin_cli.add_typer(keys_cli, name="keys")
catalog_cli = typer.Typer(help="Catalog import and export.", no_args_is_help=True)
search_cli = typer.Typer(help="Catalog search.", no_args_is_help=True)


@keys_cli.command("create")
def keys_create(
    name: str,
    scope: Annotated[list[str], typer.Option("--scope", help="e.g. catalog:write; repeat for more; * for all")],
) -> None:
    """Create an admin API key and print it once."""
    from rich.console import Console

    from toolbox_core.admin.auth import create_key

    toolbox = _toolbox()
    try:
        key, plain = create_key(toolbox, name, list(scope))
    finally:
        toolbox.close()
    console = Console()
    console.print(f"created key [bold]{key.id}[/] ({name}) scopes: {', '.join(scope)}")
    console.print("store it now, it is not shown again:")
    print(plain)


@keys_cli.command("list")
def keys_list() -> None:
    """List admin API keys (prefix, scopes, revoked or not)."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from toolbox_core.admin.models import AdminApiKey

    toolbox = _toolbox()
    with toolbox.db.session() as session:
        keys = session.scalars(select(AdminApiKey).order_by(AdminApiKey.created_at)).all()
    toolbox.close()
    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for k in keys:
        table.add_row(k.id, k.name, k.prefix, ", ".join(k.scopes or []), k.created_at.isoformat(timespec="seconds"),
                      k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "")
    Console().print(table)


@keys_cli.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key: it stops working at once."""
    from toolbox_core.admin.models import AdminApiKey
    from toolbox_core.db.base import utcnow

    toolbox = _toolbox()
    try:
        with toolbox.db.transaction() as session:
            key = session.get(AdminApiKey, key_id)
            if key is None:
                typer.echo(f"error: no key {key_id!r}", err=True)
                raise typer.Exit(1)
            if key.revoked_at is None:
                key.revoked_at = utcnow()
    finally:
        toolbox.close()
    typer.echo(f"revoked {key_id}")


@catalog_cli.command("import")
def catalog_import(
    file: Annotated[str, typer.Argument(help="A .json or .csv file (see `toolbox catalog export`)")],
    errors: Annotated[str | None, typer.Option(help="Write the per-row error report (JSON) here")] = None,
) -> None:
    """Import products row by row; bad rows are reported, good rows are kept."""
    from toolbox_core.catalog.transfer import run_import_cli

    toolbox = _toolbox()
    try:
        failed = run_import_cli(toolbox, file, errors)
    finally:
        toolbox.close()
    if failed:
        raise typer.Exit(2)


@catalog_cli.command("export")
def catalog_export(
    file: Annotated[str, typer.Argument(help="Output path; .csv or .json")],
) -> None:
    """Export every product (all statuses, all locales) as JSON or CSV."""
    from toolbox_core.catalog.transfer import run_export_cli

    toolbox = _toolbox()
    try:
        run_export_cli(toolbox, file)
    finally:
        toolbox.close()


@search_cli.command("reindex")
def search_reindex() -> None:
    """Rebuild the search index (Meilisearch when configured, else the database index)."""
    from toolbox_core.catalog.search.reindex import run_reindex_cli

    toolbox = _toolbox()
    try:
        run_reindex_cli(toolbox)
    finally:
        toolbox.close()


def demo_command(migrate: Annotated[bool, typer.Option(help="Migrate first")] = True) -> None:
    """Load the Toolbox demo catalog (RU/UZ, prices in so'm) into an empty store."""
    from toolbox_core.catalog.demo import load_demo_if_empty

    toolbox = _toolbox()
    try:
        if migrate:
            toolbox.migrate()
        created = load_demo_if_empty(toolbox)
    finally:
        toolbox.close()
    typer.echo(f"demo catalog loaded: {created} products" if created else "the store already has products; nothing loaded")


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    cli.add_typer(admin_cli, name="admin")
    cli.add_typer(catalog_cli, name="catalog")
    cli.add_typer(search_cli, name="search")
    cli.command("demo")(demo_command)

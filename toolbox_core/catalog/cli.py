"""The catalog's commands: ``toolbox admin keys``, ``toolbox catalog``, ``toolbox search``, ``toolbox demo``.

Registered by :func:`toolbox_core.catalog.plugin.register_commands`; kept apart from the plugin
so that loading the plugin at start-up does not import typer.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer


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
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650, help="The key stops working after this many days")] = None,
) -> None:
    """Create an admin API key and print it once."""
    from datetime import UTC, datetime, timedelta

    from rich.console import Console

    from toolbox_core.admin.auth import create_key
    from toolbox_core.errors import ToolboxError

    toolbox = _toolbox()
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        key, plain = create_key(toolbox, name, list(scope), expires_at=expires_at)
    except ToolboxError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        toolbox.close()
    console = Console()
    console.print(f"created key [bold]{key.id}[/] ({name}) scopes: {', '.join(scope)}"
                  + (f", expires {expires_at.isoformat(timespec='seconds')}" if expires_at else ""))
    console.print("store it now, it is not shown again:")
    print(plain)


@keys_cli.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List admin API keys (whole id, name, scopes, created, expires, last used, revoked)."""
    from sqlalchemy import select

    from toolbox_core.admin.models import AdminApiKey
    from toolbox_core.cli.tables import Col, print_rows

    toolbox = _toolbox()
    with toolbox.db.session() as session:
        keys = session.scalars(select(AdminApiKey).order_by(AdminApiKey.created_at)).all()
    toolbox.close()
    rows = [{"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes or []),
             "created_at": k.created_at, "expires_at": k.expires_at, "last_used_at": k.last_used_at,
             "revoked_at": k.revoked_at} for k in keys]
    # The id is what `revoke` takes: printed whole, whatever the terminal width.
    print_rows(rows, [Col("id", ident=True), Col("name"), Col("scopes"), Col("revoked_at", "revoked"),
                      Col("expires_at", "expires", drop=1), Col("last_used_at", "last used", drop=2),
                      Col("created_at", "created", drop=3), Col("prefix", drop=4)], as_json=as_json)


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
    update: Annotated[bool, typer.Option("--update", help="Update products whose handle exists (variants by SKU) "
                                                          "instead of refusing them as duplicates")] = False,
) -> None:
    """Import products row by row; bad rows are reported, good rows are kept."""
    from toolbox_core.catalog.transfer import run_import_cli

    toolbox = _toolbox()
    try:
        failed = run_import_cli(toolbox, file, errors, update=update)
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



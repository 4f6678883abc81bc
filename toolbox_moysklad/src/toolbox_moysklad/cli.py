"""``toolbox moysklad sync [--full] [--dry-run]``, ``reports``, ``webhooks install``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.api import Toolbox

moysklad_app = typer.Typer(help="MoySklad stock sync: run it, see its reports, install webhooks.")
webhooks_app = typer.Typer(help="MoySklad stock webhooks.")
moysklad_app.add_typer(webhooks_app, name="webhooks")


def _toolbox() -> Toolbox:
    """The runtime, built in the command (settings from the environment and ``toolbox.toml``)."""
    from toolbox_core.api import Toolbox

    return Toolbox.create()


@moysklad_app.command("sync")
def sync_cmd(full: Annotated[bool, typer.Option("--full", help="A full run (/report/stock/all)")] = False,
             dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only; write no stock")] = False,
             as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON")] = False) -> None:
    """Sync stock from MoySklad now (never alongside a running sync) and print the report."""
    from rich.console import Console
    from rich.progress import Progress as Bar

    from toolbox_core.api import LeaseHeld, RichProgress, ToolboxError
    from toolbox_moysklad.client import MoySkladError
    from toolbox_moysklad.sync import JOB_NAME, MoySkladSync, summary

    console = Console()
    toolbox = _toolbox()
    try:
        lease = toolbox.scheduler.lease(JOB_NAME)
        try:
            with lease, Bar(console=console, transient=True) as bar:
                progress = RichProgress(bar, bar.add_task("MoySklad", total=None))
                sync = MoySkladSync(toolbox)
                try:
                    report = sync.run(full=True if full else None, dry_run=dry_run, trigger="manual",
                                      progress=progress)
                finally:
                    sync.close()
        except LeaseHeld:
            console.print("[red]a MoySklad sync is already running; not started again[/red]")
            raise typer.Exit(1) from None
        except (MoySkladError, ToolboxError) as exc:
            console.print(f"[red]sync failed: {exc}[/red]")
            raise typer.Exit(1) from None
        console.print(("DRY RUN (nothing written) — " if dry_run else "") + summary(report))
        if as_json:
            console.print_json(json.dumps(report, default=str))
        else:
            for name in ("unknown_sample", "missing_sample", "unlinked_sample"):
                if report.get(name):
                    console.print(f"{name.replace('_sample', '')}: {', '.join(report[name][:10])}"
                                  + (" ..." if len(report[name]) > 10 else ""))
        if report.get("blocked"):
            raise typer.Exit(2)
    finally:
        toolbox.close()


@moysklad_app.command("reports")
def reports_cmd(limit: Annotated[int, typer.Option(min=1, max=100, help="How many runs")] = 10,
                as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """The last sync runs with their status and counts."""
    from toolbox_core.api import TableColumn, print_rows
    from toolbox_moysklad.admin_api import last_runs

    toolbox = _toolbox()
    try:
        runs = last_runs(toolbox, limit)
    finally:
        toolbox.close()
    if as_json:
        print_rows(runs, [], as_json=True)
        return
    counts = ("matched", "changed", "unknown", "missing", "requests", "duration_seconds")
    rows = [{"id": run["id"], "started": run["started_at"][:19].replace("T", " "),
             "kind": run["kind"] + (" (dry)" if run["dry_run"] else ""), "trigger": run["trigger"],
             "status": run["status"], **{k: (run["report"] or {}).get(k) for k in counts}} for run in runs]
    print_rows(rows, [TableColumn("started"), TableColumn("kind"), TableColumn("status"),
                      TableColumn("changed"), TableColumn("matched", drop=2), TableColumn("unknown", drop=3),
                      TableColumn("missing", drop=3), TableColumn("trigger", drop=4),
                      TableColumn("requests", drop=5), TableColumn("duration_seconds", "seconds", drop=5),
                      TableColumn("id", ident=True, drop=1)])


@webhooks_app.command("install")
def install_cmd() -> None:
    """Register the stock webhook in MoySklad (idempotent: lists first)."""
    from toolbox_core.api import ToolboxError
    from toolbox_moysklad.client import MoySkladClient, MoySkladError
    from toolbox_moysklad.sync import settings_of
    from toolbox_moysklad.webhooks import install

    toolbox = _toolbox()
    try:
        settings = settings_of(toolbox)
        with MoySkladClient(settings, toolbox.keystore) as client:
            outcome = install(settings, client)
        typer.echo(f"stock webhook: {outcome}")
    except (MoySkladError, ToolboxError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        toolbox.close()

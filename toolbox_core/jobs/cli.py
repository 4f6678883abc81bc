"""``toolbox jobs``: scheduled jobs, their last run, and running one by hand."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

jobs_app = typer.Typer(help="Scheduled jobs: list them (no sub-command) or run one by hand.",
                       invoke_without_command=True)


@jobs_app.callback()
def list_jobs(ctx: typer.Context,
              as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List scheduled jobs: schedule, last run, last result."""
    if ctx.invoked_subcommand is not None:
        return
    from toolbox_core.cli.main import open_toolbox
    from toolbox_core.cli.tables import Col, print_rows

    toolbox = open_toolbox()
    rows = []
    for row in toolbox.scheduler.status():
        run = row.last_run
        rows.append({"job": row.job.name, "schedule": row.schedule, "description": row.job.description,
                     "last_run": run.started_at if run else None, "trigger": run.trigger if run else None,
                     "status": run.status if run else "never", "result": run.result if run else None})
    toolbox.close()
    print_rows(rows, [Col("job", ident=True), Col("schedule", ident=True), Col("last_run", "last run"), Col("trigger", drop=3),
                      Col("status"), Col("result", "last result", drop=1), Col("description", drop=2)],
               as_json=as_json)


@jobs_app.command("run")
def run_cmd(name: Annotated[str, typer.Argument(help="The scheduled job to run now")]) -> None:
    """Run a scheduled job now, with a progress bar; the run is recorded like a scheduled one."""
    from rich.progress import Progress as Bar

    from toolbox_core.cli.main import _fail, open_toolbox
    console = Console()  # made now: reads the terminal width at run time
    from toolbox_core.jobs.lease import LeaseHeld
    from toolbox_core.jobs.progress import RichProgress

    toolbox = open_toolbox()
    try:
        if name not in toolbox.scheduler.jobs:
            known = ", ".join(sorted(toolbox.scheduler.jobs)) or "none"
            raise _fail(f"no scheduled job named {name!r} (known: {known})")
        with Bar(console=console) as bar:
            run = toolbox.scheduler.run_now(name, RichProgress(bar, bar.add_task(name, total=None)))
    except LeaseHeld:
        raise _fail(f"{name} is already running (in this or another process); not started again") from None
    finally:
        toolbox.close()
    console.print(f"{name}: {run.status}" + (f" — {run.result}" if run.result else ""))
    if run.status != "ok":
        raise typer.Exit(1)

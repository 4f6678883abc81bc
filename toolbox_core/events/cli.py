"""``toolbox events``: the event registry, parked deliveries and replay."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

events_app = typer.Typer(help="Events: registry, failed deliveries, replay.", no_args_is_help=True)


@events_app.command("types")
def types_cmd() -> None:
    """List every declared event (the registry), its version, payload fields and plugin."""
    from toolbox_core.cli.main import open_toolbox

    console = Console()  # made now: reads the terminal width at run time

    toolbox = open_toolbox()
    table = Table("event", "version", "payload", "plugin", "description")
    for declared in toolbox.events.registry:
        event = declared.type
        table.add_row(event.name, str(event.version), ", ".join(event.payload), declared.plugin, event.description)
    console.print(table)
    toolbox.close()


@events_app.command("docs")
def docs_cmd() -> None:
    """Print the registry as Markdown (``toolbox events docs > docs/events.md``)."""
    from toolbox_core.cli.main import open_toolbox

    toolbox = open_toolbox()
    typer.echo(toolbox.events.registry.to_markdown(), nl=False)
    toolbox.close()


@events_app.command("status")
def status_cmd() -> None:
    """Count events not yet relayed and deliveries by status (pending, done, failed)."""
    from toolbox_core.cli.main import open_toolbox

    console = Console()  # made now: reads the terminal width at run time

    toolbox = open_toolbox()
    counts = toolbox.events.counts()
    toolbox.close()
    console.print("  ".join(f"{key}: {value}" for key, value in counts.items()))


@events_app.command("failed")
def failed_cmd(limit: Annotated[int, typer.Option(help="How many to show")] = 100) -> None:
    """List deliveries parked after their last retry, newest first (ids ready for replay)."""
    from toolbox_core.cli.main import open_toolbox

    console = Console()  # made now: reads the terminal width at run time

    toolbox = open_toolbox()
    parked = toolbox.events.failed(limit)
    toolbox.close()
    for delivery in parked:
        console.print(f"{delivery.id}  {delivery.subscriber}  attempts {delivery.attempts}  "
                      f"{delivery.updated_at:%Y-%m-%d %H:%M:%S}", markup=False, highlight=False)
        console.print(f"    event {delivery.event_id}: {delivery.last_error or ''}", markup=False,
                      highlight=False, soft_wrap=True)
    console.print(f"{len(parked)} failed deliver{'y' if len(parked) == 1 else 'ies'}")


@events_app.command("replay")
def replay_cmd(ident: Annotated[str, typer.Argument(metavar="ID", help="A delivery id (dlv_...) or an event id (evt_...)")]) -> None:
    """Deliver again: the delivery, or every delivery of the event, becomes due with fresh attempts."""
    from toolbox_core.cli.main import _fail, open_toolbox
    console = Console()  # made now: reads the terminal width at run time
    from toolbox_core.errors import NotFound

    toolbox = open_toolbox()
    try:
        count = toolbox.events.replay(ident)
    except NotFound as exc:
        raise _fail(str(exc)) from None
    finally:
        toolbox.close()
    console.print(f"{count} deliver{'y' if count == 1 else 'ies'} scheduled again")

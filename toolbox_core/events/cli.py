"""``toolbox events``: the event registry, recent events, parked deliveries and replay."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from toolbox_core.cli.tables import Col, dumps, print_rows

events_app = typer.Typer(help="Events: registry, recent events, failed deliveries, replay.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="How many to show")]


@events_app.command("types")
def types_cmd(as_json: JsonOption = False) -> None:
    """List every declared event (the registry), its version, payload fields and plugin."""
    from toolbox_core.cli.main import open_toolbox

    toolbox = open_toolbox()
    rows = [{"name": d.type.name, "version": d.type.version, "payload": list(d.type.payload),
             "plugin": d.plugin, "description": d.type.description} for d in toolbox.events.registry]
    toolbox.close()
    print_rows(rows, [Col("name", "event", ident=True), Col("version", "v"), Col("payload", drop=1),
                      Col("plugin"), Col("description", drop=2)], as_json=as_json)


@events_app.command("docs")
def docs_cmd() -> None:
    """Print the registry as Markdown (``toolbox events docs > docs/events.md``)."""
    from toolbox_core.cli.main import open_toolbox

    toolbox = open_toolbox()
    typer.echo(toolbox.events.registry.to_markdown(), nl=False)
    toolbox.close()


@events_app.command("status")
def status_cmd(as_json: JsonOption = False) -> None:
    """Count events not yet relayed and deliveries by status; with Redis, whether a worker runs."""
    from toolbox_core.cli.main import open_toolbox

    toolbox = open_toolbox()
    status: dict[str, Any] = dict(toolbox.events.counts())
    if toolbox.settings.redis_url:
        from toolbox_core.jobs.heartbeat import worker_status

        status["worker"] = worker_status(toolbox)["status"]
    toolbox.close()
    if as_json:
        typer.echo(dumps(status))
        return
    console = Console()  # made now: reads the terminal width at run time
    console.print(Text("  ".join(f"{key}: {value}" for key, value in status.items())))
    if not any(status[k] for k in ("unpublished", "pending", "done", "failed")):
        console.print(Text("no deliveries: no subscriber took an event yet "
                           "(`toolbox events recent` lists the events themselves)"))


RECENT_COLUMNS = [Col("id", "event", ident=True), Col("name"), Col("deliveries"), Col("occurred_at", "occurred", drop=1)]


def delivery_line(delivery: dict[str, Any]) -> str:
    """``printer: failed after 2 attempts: RuntimeError: paper jam`` (``crm.sync: done``)."""
    attempts = delivery["attempts"]
    line = f"{delivery['subscriber']}: {delivery['status']}"
    if delivery["status"] != "done" and attempts:
        line += f" after {attempts} attempt{'' if attempts == 1 else 's'}"
        if delivery["last_error"]:
            line += ": " + " ".join(delivery["last_error"].split())
    return line


@events_app.command("recent")
def recent_cmd(
    limit: LimitOption = 20,
    types: Annotated[list[str] | None, typer.Option(
        "--type", help="An event name or prefix.* pattern (order.*); repeat for more")] = None,
    as_json: JsonOption = False,
) -> None:
    """The last events, newest first, with their deliveries (subscriber, state, attempts, last error).

    An event no subscriber takes is listed with none: it was recorded, nothing reacts to it.
    """
    from toolbox_core.cli.main import open_toolbox

    toolbox = open_toolbox()
    events = toolbox.events.recent(limit, tuple(types or ()))
    toolbox.close()
    if as_json:
        typer.echo(dumps(events))
        return
    rows = [event | {"deliveries": "\n".join(delivery_line(d) for d in event["deliveries"])
                     or ("no subscriber" if event["published_at"] else "not relayed yet")} for event in events]
    print_rows(rows, RECENT_COLUMNS)
    typer.echo(f"{len(events)} event{'' if len(events) == 1 else 's'}")


@events_app.command("failed")
def failed_cmd(limit: LimitOption = 100, as_json: JsonOption = False) -> None:
    """List deliveries parked after their last retry, newest first (ids ready for replay)."""
    from toolbox_core.cli.main import open_toolbox

    toolbox = open_toolbox()
    parked = [{"id": d.id, "event_id": d.event_id, "subscriber": d.subscriber, "attempts": d.attempts,
               "updated_at": d.updated_at, "last_error": d.last_error} for d in toolbox.events.failed(limit)]
    toolbox.close()
    print_rows(parked, [Col("id", "delivery", ident=True), Col("subscriber"), Col("attempts", "tries"),
                        Col("updated_at", "parked", drop=3), Col("last_error", "last error", drop=1),
                        Col("event_id", "event", ident=True, drop=2)], as_json=as_json)
    if not as_json:
        typer.echo(f"{len(parked)} failed deliver{'y' if len(parked) == 1 else 'ies'}")


@events_app.command("replay")
def replay_cmd(ident: Annotated[str, typer.Argument(metavar="ID", help="A delivery id (dlv_...) or an event id (evt_...)")]) -> None:
    """Deliver again: the delivery, or every delivery of the event, becomes due with fresh attempts."""
    from toolbox_core.cli.main import _fail, open_toolbox
    from toolbox_core.errors import NotFound

    toolbox = open_toolbox()
    try:
        count = toolbox.events.replay(ident)
    except NotFound as exc:
        raise _fail(str(exc)) from None
    finally:
        toolbox.close()
    typer.echo(f"{count} deliver{'y' if count == 1 else 'ies'} scheduled again")

"""Built-in plugin: the kernel's event types, in-process workers, and the events/jobs commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolbox_core.events.catalog import KERNEL_EVENT_TYPES
from toolbox_core.events.types import EventType
from toolbox_core.plugins import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import typer

    from toolbox_core.kernel import Toolbox

PLUGIN_NAME = "core.events"


@hookimpl
def event_types() -> list[EventType]:
    return list(KERNEL_EVENT_TYPES)


@hookimpl
def startup(toolbox: Toolbox) -> None:
    """Check declarations now; in embedded mode run workers, relay and scheduler in this process."""
    toolbox.events.registry  # noqa: B018 - conflicting declarations fail at start-up
    toolbox.events.subscribers  # noqa: B018
    if toolbox.settings.embedded_jobs:
        toolbox.jobs.start()
        toolbox.scheduler.start()


@hookimpl
def shutdown(toolbox: Toolbox) -> None:
    if toolbox.settings.embedded_jobs:
        toolbox.scheduler.stop()
        toolbox.jobs.stop()


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    from toolbox_core.events.cli import events_app
    from toolbox_core.jobs.cli import jobs_app

    cli.add_typer(events_app, name="events")
    cli.add_typer(jobs_app, name="jobs")

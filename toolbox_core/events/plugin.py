"""Built-in plugin: the kernel's event types, in-process workers, and the events/jobs commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolbox_core.events.catalog import JOB_REQUESTED, KERNEL_EVENT_TYPES
from toolbox_core.events.types import Event, EventType, ScheduledJob, Subscriber
from toolbox_core.plugins import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import typer

    from toolbox_core.jobs.progress import Progress
    from toolbox_core.kernel import Toolbox

PLUGIN_NAME = "core.events"


@hookimpl
def event_types() -> list[EventType]:
    return list(KERNEL_EVENT_TYPES)


@hookimpl
def event_subscribers(toolbox: Toolbox) -> list[Subscriber]:
    """``core.jobs`` runs the jobs enqueued in embedded mode (see ``Jobs.enqueue``)."""

    def run_job(event: Event, toolbox: Toolbox) -> None:
        toolbox.jobs.run_requested(event)

    return [Subscriber("core.jobs", (JOB_REQUESTED,), run_job)]


@hookimpl
def scheduled_jobs(toolbox: Toolbox) -> list[ScheduledJob]:
    return [ScheduledJob("events.purge", purge_delivered_events, cron="17 3 * * *",
                         description="Delete delivered events older than jobs.event_retention_days")]


def purge_delivered_events(toolbox: Toolbox, progress: Progress) -> str:
    """Scheduled nightly: keep the outbox small; parked and pending deliveries are kept."""
    from datetime import timedelta

    days = toolbox.settings.jobs.event_retention_days
    progress.message(f"deleting delivered events older than {days} days")
    return f"{toolbox.events.purge_delivered(timedelta(days=days))} events deleted"


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

"""Watching a toolbox in tests: the events it committed, its jobs run by a worker, the SQL of
its requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from toolbox_core.urls import in_request


@dataclass(frozen=True)
class CapturedEvent:
    """One committed event: its id, name and payload."""

    id: str
    name: str
    payload: dict[str, Any]


class CapturedEvents:
    """Events committed to the outbox since the capture began, by any process.

    The outbox is the database table every ``emit`` writes in the caller's transaction, so an
    event shows here only once its transaction committed — exactly what subscribers see.
    """

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox
        self._before = {event.id for event in self._rows()}

    def _rows(self) -> list[CapturedEvent]:
        from sqlalchemy import select

        from toolbox_core.events.models import OutboxEvent

        with self.toolbox.db.session() as session:
            rows = session.scalars(select(OutboxEvent).order_by(OutboxEvent.occurred_at, OutboxEvent.id))
            return [CapturedEvent(row.id, row.name, dict(row.payload)) for row in rows]

    def all(self) -> list[CapturedEvent]:
        """Every event committed since the capture began, oldest first (public and ``_`` internal)."""
        return [event for event in self._rows() if event.id not in self._before]

    def names(self) -> list[str]:
        """Names of the public events (not the kernel's internal ``_`` ones), oldest first."""
        return [event.name for event in self.all() if not event.name.startswith("_")]

    def of(self, name: str) -> list[dict[str, Any]]:
        """Payloads of the events named ``name``, oldest first."""
        return [event.payload for event in self.all() if event.name == name]

    def one(self, name: str) -> dict[str, Any]:
        """The payload of the only event named ``name``; fails the test if there are 0 or several."""
        found = self.of(name)
        assert len(found) == 1, f"expected one {name!r} event, got {len(found)}: {self.names()}"
        return found[0]


class RunningWorker:
    """In-process workers (Dramatiq threads and the event relay) of one toolbox, until :meth:`stop`.

    What ``toolbox serve`` runs in embedded mode: subscribers and jobs run in the background as
    in production. :meth:`drain` waits until every committed event has been delivered.
    """

    def __init__(self, toolbox: Any, threads: int = 2) -> None:
        self.toolbox = toolbox
        toolbox.jobs.start(threads)

    def drain(self, timeout: float = 10.0) -> Any:
        """Wait until every committed event reached its subscribers (failures recorded)."""
        return self.toolbox.events.drain(timeout)

    def stop(self) -> None:
        self.toolbox.jobs.stop()


@contextmanager
def request_statements(engine: Any) -> Iterator[list[str]]:
    """``with request_statements(toolbox.db.engine) as seen:`` — the SQL the served requests run.

    Counts statements executed while serving a request (on the event loop or in a worker
    thread: :func:`~toolbox_core.urls.in_request`), not those of the embedded mode's relay and
    workers in threads of their own, so a test can hold a route to a statement budget
    (``assert len(seen) <= 12``).
    """
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if in_request():
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)

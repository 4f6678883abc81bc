"""Domain events, written to an outbox in the caller's transaction and delivered at least once.

Domain code emits inside its transaction::

    with toolbox.db.transaction() as session:
        order = ...
        emit(session, "order.placed", {"order_id": order.id})

Nothing is published if the transaction rolls back; nothing is lost if the process dies after
commit: the relay picks up committed rows (see :mod:`toolbox_core.events.bus`).

Declare every event you emit with the ``event_types`` hook; ``toolbox events types`` lists the
registry. Tests assert delivery end to end with ``toolbox.events.drain()``, which relays and runs
every due delivery in the calling thread.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert, insert
from sqlalchemy.orm import Session

from toolbox_core.db.base import utcnow
from toolbox_core.events.types import Event, EventType, Subscriber
from toolbox_core.ids import new_id

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.events.models import OutboxEvent

#: ``session.info`` key set by :func:`emit`, so the relay is woken when that transaction commits.
EMITTED_KEY = "toolbox_events_emitted"


@cache
def _insert_event() -> Insert:
    """The outbox INSERT, built once on first use (the model is not imported with this package,
    which every event declaration imports at start-up).

    A core INSERT skips the unit of work (the row has no relationships) and the statement's
    compiled form is cached by its identity.
    """
    from toolbox_core.events.models import OutboxEvent

    return insert(OutboxEvent.__table__)


def emit(session: Session, name: str, payload: dict[str, Any], *, version: int = 1) -> str:
    """Record event ``name`` in the current transaction; returns the event id.

    The outbox row is written at once, on the session's connection (so in its transaction):
    nothing is published if that transaction rolls back.
    """
    event_id = new_id("evt")
    session.connection().execute(_insert_event(), {"id": event_id, "name": name, "version": version,
                                                   "payload": payload, "occurred_at": utcnow()})
    session.info[EMITTED_KEY] = True
    return event_id


def __getattr__(name: str) -> Any:
    """``OutboxEvent``, imported on first use (see :func:`_insert_event`)."""
    if name == "OutboxEvent":
        from toolbox_core.events.models import OutboxEvent

        return OutboxEvent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Event", "EventType", "OutboxEvent", "Subscriber", "emit"]

"""Domain events, written to an outbox in the caller's transaction and delivered at least once.

Domain code emits inside its transaction::

    with toolbox.db.transaction() as session:
        order = ...
        emit(session, "order.placed", {"order_id": order.id})

Nothing is published if the transaction rolls back; nothing is lost if the process dies after
commit: the relay picks up committed rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from toolbox_core.events.models import OutboxEvent
from toolbox_core.events.types import Event, EventType, Subscriber
from toolbox_core.ids import new_id


def emit(session: Session, name: str, payload: dict[str, Any], *, version: int = 1) -> str:
    """Record event ``name`` in the current transaction; returns the event id."""
    event_id = new_id("evt")
    session.add(OutboxEvent(id=event_id, name=name, version=version, payload=payload))
    return event_id


__all__ = ["Event", "EventType", "OutboxEvent", "Subscriber", "emit"]

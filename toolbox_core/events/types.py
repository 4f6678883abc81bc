"""The data types plugins use to declare events and subscribe to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EventType:
    """A documented event: its name, payload version and payload fields.

    ``payload`` maps each field name to a short description; subscribers may rely on these
    fields for the given ``version``. New fields may be added without a version bump; removing
    or changing one bumps ``version``.
    """

    name: str
    description: str
    payload: dict[str, str]
    version: int = 1


@dataclass(frozen=True)
class Event:
    """An event as a subscriber receives it. ``id`` is stable across redeliveries."""

    id: str
    name: str
    payload: dict[str, Any]
    version: int = 1
    occurred_at: str = ""


@dataclass(frozen=True)
class Subscriber:
    """Runs ``handler(event, toolbox)`` for every event whose name matches ``events``.

    ``events`` holds exact names (``"order.placed"``) or prefixes ending in ``*``
    (``"product.*"``, ``"*"``). Kernel-internal events start with ``_`` and match only their
    exact name, never a wildcard. ``name`` must be unique; it identifies the subscriber in the
    delivery log (``toolbox events failed``). Delivery is at least once: use ``event.id``
    to make the handler idempotent.
    """

    name: str
    events: tuple[str, ...]
    handler: Callable[..., Any]
    max_retries: int | None = None

    def matches(self, event_name: str) -> bool:
        internal = event_name.startswith("_")
        return any(
            event_name == pattern
            or (not internal and pattern.endswith("*") and event_name.startswith(pattern[:-1]))
            for pattern in self.events
        )


@dataclass(frozen=True)
class JobSpec:
    """A background job: ``func(**kwargs)`` run by a Dramatiq worker under the name ``name``."""

    name: str
    func: Callable[..., Any]
    max_retries: int | None = None
    time_limit_ms: int | None = None
    queue: str = "default"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduledJob:
    """A job run on a schedule: every ``interval_seconds`` or on a ``cron`` expression.

    Exactly one run happens per tick however many scheduler processes are up.
    ``func(toolbox, progress)`` gets a progress reporter (see ``toolbox jobs run NAME``).
    """

    name: str
    func: Callable[..., Any]
    interval_seconds: int | None = None
    cron: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if (self.interval_seconds is None) == (self.cron is None):
            raise ValueError(f"scheduled job {self.name!r}: give exactly one of interval_seconds, cron")

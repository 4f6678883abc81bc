"""Plugins of recording subscribers and jobs, registered on a live Toolbox in event and job tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from toolbox_core.events.types import Event, JobSpec, ScheduledJob, Subscriber
from toolbox_core.plugins import hookimpl


class Recorder:
    """Collects the events a subscriber received; ``wait(n)`` blocks until n arrived."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event, toolbox: Any) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[Event]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


class SubscriberPlugin:
    """Implements ``event_subscribers`` with the given subscribers."""

    def __init__(self, *subscribers: Subscriber) -> None:
        self.subscribers = list(subscribers)

    @hookimpl
    def event_subscribers(self, toolbox: Any) -> list[Subscriber]:
        return self.subscribers


def subscribe(toolbox: Any, *subscribers: Subscriber, name: str = "test.subscribers") -> None:
    """Register ``subscribers`` on ``toolbox`` before its event bus is first used."""
    toolbox.plugins.pm.register(SubscriberPlugin(*subscribers), name=name)


def failing(message: str = "boom") -> Callable[[Event, Any], None]:
    """A handler that always raises, counting its calls in ``handler.calls``."""

    def handler(event: Event, toolbox: Any) -> None:
        handler.calls += 1  # type: ignore[attr-defined]
        raise RuntimeError(message)

    handler.calls = 0  # type: ignore[attr-defined]
    return handler


class JobsPlugin:
    """Implements ``register_jobs`` and ``scheduled_jobs`` with the given jobs."""

    def __init__(self, jobs: list[JobSpec] = (), scheduled: list[ScheduledJob] = ()) -> None:
        self.jobs, self.scheduled = list(jobs), list(scheduled)

    @hookimpl
    def register_jobs(self, toolbox: Any) -> list[JobSpec]:
        return self.jobs

    @hookimpl
    def scheduled_jobs(self, toolbox: Any) -> list[ScheduledJob]:
        return self.scheduled

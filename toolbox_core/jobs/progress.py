"""Progress reporting for long jobs: ``ScheduledJob.func(toolbox, progress)`` gets one."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

log = logging.getLogger("toolbox.jobs")


@runtime_checkable
class Progress(Protocol):
    """What a job may report. All three are optional to call; none may raise."""

    def total(self, count: int) -> None:
        """Announce how many units of work there are (e.g. products to import)."""

    def advance(self, count: int = 1) -> None:
        """Mark ``count`` more units as done."""

    def message(self, text: str) -> None:
        """Say what is happening now (``"fetching page 3"``)."""


class LogProgress:
    """Progress for scheduled runs: messages go to the log, counts are kept for the run record."""

    def __init__(self, job: str) -> None:
        self.job = job
        self.done = 0
        self.expected: int | None = None

    def total(self, count: int) -> None:
        self.expected = count

    def advance(self, count: int = 1) -> None:
        self.done += count

    def message(self, text: str) -> None:
        log.info("job %s: %s", self.job, text)


class RichProgress:
    """A progress bar on the terminal (``toolbox jobs run NAME``)."""

    def __init__(self, bar: object, task_id: int) -> None:
        self._bar = bar
        self._task = task_id
        self.done = 0

    def total(self, count: int) -> None:
        self._bar.update(self._task, total=count)  # type: ignore[attr-defined]

    def advance(self, count: int = 1) -> None:
        self.done += count
        self._bar.advance(self._task, count)  # type: ignore[attr-defined]

    def message(self, text: str) -> None:
        self._bar.update(self._task, description=text)  # type: ignore[attr-defined]

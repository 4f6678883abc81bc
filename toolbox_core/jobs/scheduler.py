"""Scheduled jobs (``scheduled_jobs`` hook) on APScheduler 3, with exactly one run per tick.

Every scheduler process fires each job at the same aligned times (interval jobs are anchored at
a fixed epoch, cron jobs follow the wall clock in UTC). Before running, a process takes the tick:
``SET NX`` with an expiry in Redis when Redis is configured, and in every mode a unique
``(job, tick)`` row in ``job_runs``. Whoever loses does nothing. The row also records the result.

Ticks are not enough when a run outlasts its interval: every run (scheduled or by hand) also
holds the job's lease (:mod:`toolbox_core.jobs.lease`, one per job name in the key store), so a
job never overlaps with itself across processes. A tick that finds the lease held is skipped;
``run_now`` raises :class:`~toolbox_core.jobs.lease.LeaseHeld` (409 ``job_running``).
Intervals can be overridden by name in settings (``TOOLBOX_JOBS__INTERVALS='{"name": 600}'``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from toolbox_core.db.base import utcnow
from toolbox_core.events.registry import index_by_name
from toolbox_core.events.types import ScheduledJob
from toolbox_core.ids import new_id
from toolbox_core.jobs.lease import DEFAULT_LEASE_SECONDS, JobLease
from toolbox_core.jobs.models import JobRun
from toolbox_core.jobs.progress import LogProgress, Progress

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox

log = logging.getLogger("toolbox.jobs")

#: Interval ticks are counted from here, so every process agrees on them.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class JobStatus:
    """A scheduled job and its last run, for ``toolbox jobs``."""

    job: ScheduledJob
    schedule: str
    last_run: JobRun | None


def describe_schedule(job: ScheduledJob) -> str:
    return f"every {job.interval_seconds}s" if job.interval_seconds else f"cron {job.cron}"


def tick_of(job: ScheduledJob, when: datetime) -> datetime:
    """The tick ``when`` belongs to: the nearest aligned interval, or the nearest minute for cron."""
    step = job.interval_seconds or 60
    elapsed = (when - EPOCH).total_seconds()
    return EPOCH + timedelta(seconds=round(elapsed / step) * step)


class Scheduler:
    """The scheduled jobs of this process and the means to run them once per tick."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox
        self._aps: BackgroundScheduler | None = None

    @cached_property
    def jobs(self) -> dict[str, ScheduledJob]:
        """Scheduled jobs by name (``scheduled_jobs`` hook); a name used twice is a start-up error.

        An interval given in ``settings.jobs.intervals`` for a job's name replaces its own.
        """
        jobs = index_by_name(self.toolbox.plugins, "scheduled_jobs", toolbox=self.toolbox)
        overrides = self.toolbox.settings.jobs.intervals
        return {name: replace(job, interval_seconds=overrides[name], cron=None) if name in overrides else job
                for name, job in jobs.items()}

    def lease(self, name: str, ttl_seconds: float | None = None) -> JobLease:
        """The cross-process lease of job ``name`` (``with scheduler.lease(name):`` raises
        :class:`LeaseHeld` when a run is in progress anywhere)."""
        ttl = ttl_seconds or self.toolbox.settings.jobs.lease_seconds or DEFAULT_LEASE_SECONDS
        return JobLease(self.toolbox.keystore, name, ttl)

    @cached_property
    def _redis(self) -> Any:
        import redis

        url = self.toolbox.settings.redis_url
        return redis.Redis.from_url(url) if url else None

    # ------------------------------------------------------------------ running
    def run_tick(self, name: str, tick: datetime | None = None) -> JobRun | None:
        """Run job ``name`` for ``tick`` unless another scheduler already took it; the run, or ``None``."""
        job = self.jobs[name]
        tick = tick or tick_of(job, utcnow())
        if not self._take_redis_lock(job, tick):
            return None
        lease = self.lease(name)
        if not lease.acquire():
            log.info("job %s: previous run still in progress, tick %s skipped", name, tick.isoformat())
            return None
        try:
            run = self._start_run(name, tick, "schedule")
            if run is None:
                return None
            return self._execute(job, run, LogProgress(name))
        finally:
            lease.release()

    def run_now(self, name: str, progress: Progress) -> JobRun:
        """Run job ``name`` by hand, now, reporting to ``progress`` (``toolbox jobs run NAME``).

        Raises :class:`LeaseHeld` when the job is running anywhere (no second, overlapping run).
        """
        job = self.jobs[name]
        with self.lease(name):
            run = self._start_run(name, utcnow(), "manual")
            assert run is not None  # a manual tick is unique to the microsecond
            return self._execute(job, run, progress)

    def _take_redis_lock(self, job: ScheduledJob, tick: datetime) -> bool:
        if self._redis is None:
            return True
        namespace = self.toolbox.settings.jobs.redis_namespace
        ttl = max(3600, 2 * (job.interval_seconds or 60))
        key = f"{namespace}:jobs:tick:{job.name}:{tick.isoformat()}"
        return bool(self._redis.set(key, uuid.uuid4().hex, nx=True, ex=ttl))

    def _start_run(self, name: str, tick: datetime, trigger: str) -> JobRun | None:
        try:
            with self.toolbox.db.transaction() as session:
                run = JobRun(id=new_id("run"), job=name, tick=tick, trigger=trigger, status="running",
                             started_at=utcnow())
                session.add(run)
        except IntegrityError:
            return None  # another scheduler runs this tick
        return run

    def _execute(self, job: ScheduledJob, run: JobRun, progress: Progress) -> JobRun:
        try:
            value = job.func(self.toolbox, progress)
            status, result = "ok", "" if value is None else str(value)[:2000]
        except Exception as exc:
            log.exception("scheduled job %s failed", job.name)
            status, result = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        with self.toolbox.db.transaction() as session:
            stored = session.get(JobRun, run.id)
            assert stored is not None
            stored.status, stored.result, stored.finished_at = status, result, utcnow()
        run.status, run.result = status, result
        return run

    # ------------------------------------------------------------------ status
    def status(self) -> list[JobStatus]:
        """Every scheduled job with its schedule and last run."""
        rows = []
        with self.toolbox.db.session() as session:
            for name, job in sorted(self.jobs.items()):
                last = session.scalars(
                    select(JobRun).where(JobRun.job == name).order_by(JobRun.started_at.desc()).limit(1)
                ).first()
                rows.append(JobStatus(job, describe_schedule(job), last))
        return rows

    # ------------------------------------------------------------------ background
    def start(self) -> None:
        """Fire every scheduled job on its schedule in a background thread."""
        if self._aps is not None or not self.jobs:
            return
        aps = BackgroundScheduler(timezone=UTC)
        for name, job in self.jobs.items():
            trigger = (
                IntervalTrigger(seconds=job.interval_seconds, start_date=EPOCH, timezone=UTC)
                if job.interval_seconds
                else CronTrigger.from_crontab(job.cron, timezone=UTC)
            )
            aps.add_job(self._fire, trigger, args=[name], id=name, coalesce=True, max_instances=1,
                        misfire_grace_time=30)
        aps.start()
        self._aps = aps

    @property
    def running(self) -> bool:
        """True while this process fires scheduled jobs."""
        return self._aps is not None

    def _fire(self, name: str) -> None:
        try:
            self.run_tick(name)
        except Exception:
            log.exception("scheduler could not run %s", name)

    def stop(self) -> None:
        """Stop firing jobs (a run in progress finishes)."""
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=True)
        if "_redis" in self.__dict__ and self._redis is not None:
            self._redis.close()

    close = stop

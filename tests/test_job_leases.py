"""Job leases: a scheduled job never overlaps with itself, across processes, ticks or by hand."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.subscribers import JobsPlugin
from toolbox_core.config import Settings
from toolbox_core.events.types import ScheduledJob
from toolbox_core.jobs.lease import JobLease, LeaseHeld
from toolbox_core.jobs.progress import LogProgress
from toolbox_core.kernel import Toolbox

TICK = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


@pytest.fixture(params=["database", "redis"])
def keystore(request, toolbox):
    if request.param == "database":
        yield toolbox.keystore
        return
    redis_url = request.getfixturevalue("redis_url")
    from toolbox_core.keystore.redis_store import RedisKeyStore

    request.getfixturevalue("redis_clean")
    store = RedisKeyStore(redis_url)
    yield store
    store.close()


def test_only_one_holder_at_a_time_and_release_hands_it_over(keystore):
    first, second = JobLease(keystore, "sync"), JobLease(keystore, "sync")
    assert first.acquire()
    assert not second.acquire()
    with pytest.raises(LeaseHeld), JobLease(keystore, "sync"):
        pass
    assert JobLease(keystore, "other").acquire(), "a lease is per job name"
    first.release()
    assert second.acquire()
    second.release()


def test_a_running_holder_keeps_renewing_past_the_expiry(keystore):
    lease = JobLease(keystore, "long", ttl_seconds=1)
    assert lease.acquire()
    time.sleep(2.5)
    assert not JobLease(keystore, "long", ttl_seconds=1).acquire()
    assert not lease.lost
    lease.release()


def test_a_dead_holder_loses_the_lease_after_its_expiry(keystore):
    crashed = JobLease(keystore, "crashy", ttl_seconds=1)
    assert crashed.acquire()
    crashed._stop.set()  # the process died: nobody renews any more
    time.sleep(1.3)
    successor = JobLease(keystore, "crashy", ttl_seconds=1)
    assert successor.acquire()
    crashed.release()  # a late release of the dead holder does not free the successor's lease
    assert not JobLease(keystore, "crashy").acquire()
    successor.release()


def _slow_job(started: threading.Event, finish: threading.Event):
    def run(toolbox, progress):
        started.set()
        assert finish.wait(10)
        return "done"
    return run


def test_run_now_and_the_next_tick_respect_a_running_run(settings):
    started, finish = threading.Event(), threading.Event()
    job = ScheduledJob("slow.sync", _slow_job(started, finish), interval_seconds=60)
    one, two = Toolbox.create(settings), Toolbox.create(settings)  # two processes on one database
    for tb in (one, two):
        tb.plugins.pm.register(JobsPlugin(scheduled=[job]), name="test.jobs")
    try:
        runner = threading.Thread(target=one.scheduler.run_tick, args=("slow.sync", TICK))
        runner.start()
        assert started.wait(10)
        assert two.scheduler.run_tick("slow.sync", TICK + timedelta(minutes=1)) is None
        with pytest.raises(LeaseHeld):
            two.scheduler.run_now("slow.sync", LogProgress("slow.sync"))
        finish.set()
        runner.join(10)
        started.clear()
        assert two.scheduler.run_now("slow.sync", LogProgress("slow.sync")).status == "ok"
    finally:
        finish.set()
        one.close()
        two.close()


def test_intervals_are_configurable_by_job_name(settings):
    configured = Settings(**{**settings.model_dump(), "jobs": {"intervals": {"slow.sync": 600}}})
    tb = Toolbox.create(configured)
    tb.plugins.pm.register(JobsPlugin(scheduled=[ScheduledJob("slow.sync", lambda t, p: None,
                                                              interval_seconds=900)]), name="test.jobs")
    try:
        assert tb.scheduler.jobs["slow.sync"].interval_seconds == 600
    finally:
        tb.close()


def test_jobs_run_command_refuses_a_second_run(settings, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from toolbox_core.events.plugin import register_commands

    started, finish = threading.Event(), threading.Event()
    job = ScheduledJob("slow.sync", _slow_job(started, finish), interval_seconds=60)
    original = Toolbox.create

    def create(*args, **kwargs):
        tb = original(*args, **kwargs)
        tb.plugins.pm.register(JobsPlugin(scheduled=[job]), name="test.jobs")
        return tb

    monkeypatch.setattr(Toolbox, "create", create)
    monkeypatch.setenv("TOOLBOX_DATABASE_URL", settings.database_url)
    holder = Toolbox.create(settings)
    lease = holder.scheduler.lease("slow.sync")
    assert lease.acquire()
    try:
        app = typer.Typer()
        register_commands(app)
        result = CliRunner().invoke(app, ["jobs", "run", "slow.sync"])
        assert result.exit_code != 0
        assert "already running" in result.output
        assert not started.is_set()
    finally:
        lease.release()
        holder.close()


def test_leases_released_out_of_order_leave_the_right_one_current(keystore):
    from toolbox_core.jobs.lease import current_lease

    outer, inner = JobLease(keystore, "outer"), JobLease(keystore, "inner")
    assert outer.acquire() and inner.acquire()
    assert current_lease() is inner
    outer.release()  # not the current one: the inner job keeps its lease current
    assert current_lease() is inner
    inner.release()  # restores the outer lease, which is no longer held: nothing is current
    assert current_lease() is None


def test_a_lease_released_from_another_thread_is_no_longer_current(keystore):
    from toolbox_core.jobs.lease import current_lease, ensure_lease_held

    lease = JobLease(keystore, "handed")
    assert lease.acquire()
    lease.lost = True
    releaser = threading.Thread(target=lease.release)
    releaser.start()
    releaser.join(10)
    assert current_lease() is None
    ensure_lease_held()  # a released lease no longer stops this thread's writes


def test_a_lease_whose_renewer_cannot_start_is_given_back_and_never_current(keystore, monkeypatch):
    from toolbox_core.jobs.lease import current_lease

    def no_thread(self) -> None:
        raise RuntimeError("can't start new thread")

    lease = JobLease(keystore, "threadless")
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    with pytest.raises(RuntimeError):
        lease.acquire()
    monkeypatch.undo()
    assert current_lease() is None
    assert not lease.held
    successor = JobLease(keystore, "threadless")
    assert successor.acquire(), "the lease was given back"
    successor.release()

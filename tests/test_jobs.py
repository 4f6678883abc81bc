"""Jobs run on Dramatiq; scheduled jobs run once per tick, record their result and report progress."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.fakes.subscribers import JobsPlugin
from toolbox_core.config import Settings
from toolbox_core.events.types import JobSpec, ScheduledJob
from toolbox_core.jobs.models import JobRun
from toolbox_core.jobs.scheduler import tick_of
from toolbox_core.kernel import Toolbox

TICK = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def with_jobs(toolbox: Toolbox, **kwargs) -> Toolbox:
    toolbox.plugins.pm.register(JobsPlugin(**kwargs), name="test.jobs")
    return toolbox


def runs(toolbox: Toolbox) -> list[JobRun]:
    with toolbox.db.session() as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.started_at)))


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, toolbox, progress) -> str:
        with self.lock:
            self.calls += 1
        progress.total(3)
        for _ in range(3):
            progress.advance()
        progress.message("synced")
        return "3 items"


def test_hook_register_jobs_job_enqueued_runs_in_an_in_process_worker(toolbox):
    done = threading.Event()
    received = {}

    def resize(image_id: str, width: int) -> None:
        received.update(image_id=image_id, width=width)
        done.set()

    with_jobs(toolbox, jobs=[JobSpec("images.resize", resize)])
    toolbox.jobs.start(threads=1)
    try:
        toolbox.jobs.enqueue("images.resize", image_id="img_1", width=300)
        assert done.wait(10)
    finally:
        toolbox.jobs.stop()
    assert received == {"image_id": "img_1", "width": 300}


def test_embedded_job_survives_a_restart_before_it_ran(settings):
    ran: list[dict] = []
    first = with_jobs(Toolbox.create(settings), jobs=[JobSpec("images.resize", lambda **kw: ran.append(kw))])
    first.jobs.enqueue("images.resize", image_id="img_1")
    first.close()  # stopped before any worker took it

    restarted = with_jobs(Toolbox.create(settings), jobs=[JobSpec("images.resize", lambda **kw: ran.append(kw))])
    restarted.events.drain()
    assert ran == [{"image_id": "img_1"}]
    restarted.close()


def test_failing_embedded_job_is_parked_for_the_operator(toolbox):
    def broken(**kwargs):
        raise ConnectionError("SMS gateway down")

    with_jobs(toolbox, jobs=[JobSpec("notify.sms", broken)])
    toolbox.jobs.enqueue("notify.sms", phone="+998901234567")
    toolbox.events.drain(retry_now=True)
    [parked] = toolbox.events.failed()
    assert parked.subscriber == "core.jobs" and "SMS gateway down" in parked.last_error


def test_wildcard_subscribers_never_see_internal_job_requests(toolbox):
    from tests.fakes.subscribers import Recorder, subscribe
    from toolbox_core.events.types import Subscriber

    everything = Recorder()
    subscribe(toolbox, Subscriber("audit", ("*",), everything))
    with_jobs(toolbox, jobs=[JobSpec("noop", lambda: None)])
    toolbox.jobs.enqueue("noop")
    toolbox.events.drain()
    assert everything.events == []


def test_enqueueing_an_unknown_job_names_the_known_ones(toolbox):
    with pytest.raises(KeyError, match=r"toolbox\.deliver"):
        toolbox.jobs.enqueue("nope")


def test_interval_ticks_are_aligned_so_every_process_agrees():
    job = ScheduledJob("sync", lambda tb, p: None, interval_seconds=900)
    assert tick_of(job, datetime(2026, 11, 24, 7, 0, 3, tzinfo=UTC)) == TICK
    assert tick_of(job, datetime(2026, 11, 24, 6, 59, 58, tzinfo=UTC)) == TICK


def test_hook_scheduled_jobs_run_records_its_result(toolbox):
    counter = Counter()
    with_jobs(toolbox, scheduled=[ScheduledJob("sync", counter, interval_seconds=900)])
    run = toolbox.scheduler.run_tick("sync", TICK)
    assert run is not None and run.status == "ok" and run.result == "3 items"
    [stored] = runs(toolbox)
    assert stored.status == "ok" and stored.finished_at is not None and stored.trigger == "schedule"


def test_failing_scheduled_job_records_the_error(toolbox):
    def broken(toolbox, progress):
        raise ValueError("MoySklad said 401")

    with_jobs(toolbox, scheduled=[ScheduledJob("sync", broken, cron="*/15 * * * *")])
    run = toolbox.scheduler.run_tick("sync", TICK)
    assert run.status == "failed" and "MoySklad said 401" in run.result


def test_two_schedulers_on_one_database_run_a_tick_once(settings):
    counter = Counter()
    schedulers = [with_jobs(Toolbox.create(settings), scheduled=[ScheduledJob("sync", counter, interval_seconds=60)])
                  for _ in range(2)]
    results = [tb.scheduler.run_tick("sync", TICK) for tb in schedulers]
    assert counter.calls == 1 and results.count(None) == 1
    for tb in schedulers:
        tb.close()


@pytest.mark.redis
def test_two_schedulers_against_one_redis_run_each_tick_once(settings, redis_clean):
    counter = Counter()
    redis_settings = Settings(**{**settings.model_dump(), "redis_url": redis_clean})
    schedulers = [
        with_jobs(Toolbox.create(redis_settings), scheduled=[ScheduledJob("sync", counter, interval_seconds=60)])
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    results: list[object] = []

    def fire(tb: Toolbox, tick: datetime) -> None:
        barrier.wait()
        results.append(tb.scheduler.run_tick("sync", tick))

    for tick in (TICK, TICK.replace(minute=1)):
        threads = [threading.Thread(target=fire, args=(tb, tick)) for tb in schedulers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert counter.calls == 2
    assert sum(r is not None for r in results) == 2
    import redis

    assert len(redis.Redis.from_url(redis_clean).keys("toolbox:jobs:tick:sync:*")) == 2
    assert [r.tick.replace(tzinfo=UTC) for r in runs(schedulers[0])] == [TICK, TICK.replace(minute=1)]
    for tb in schedulers:
        tb.close()


def test_invalid_schedule_is_refused():
    with pytest.raises(ValueError, match="exactly one"):
        ScheduledJob("sync", lambda tb, p: None)


@pytest.fixture
def cli(clean_env, sqlite_url, monkeypatch):
    """``toolbox events|jobs ...`` against ``sqlite_url``, with this module's scheduled jobs."""
    import typer
    from typer.testing import CliRunner

    from toolbox_core.events.plugin import register_commands

    monkeypatch.setenv("TOOLBOX_DATABASE_URL", sqlite_url)
    counter = Counter()
    original = Toolbox.create

    def create(*args, **kwargs):
        return with_jobs(original(*args, **kwargs), scheduled=[
            ScheduledJob("moysklad.sync", counter, interval_seconds=900, description="stock from MoySklad")])

    monkeypatch.setattr(Toolbox, "create", create)
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register_commands(app)
    runner = CliRunner(env={"COLUMNS": "250"})
    return lambda *args: runner.invoke(app, list(args))


def test_jobs_command_lists_schedule_and_last_run(cli):
    before = cli("jobs")
    assert before.exit_code == 0, before.output
    assert "moysklad.sync" in before.output and "every 900s" in before.output and "never" in before.output

    ran = cli("jobs", "run", "moysklad.sync")
    assert ran.exit_code == 0, ran.output
    assert "moysklad.sync: ok — 3 items" in ran.output

    after = cli("jobs")
    assert "manual" in after.output and "3 items" in after.output


def test_jobs_run_of_an_unknown_job_fails_clearly(cli):
    result = cli("jobs", "run", "nope")
    assert result.exit_code == 1
    assert "no scheduled job named 'nope'" in result.output


def test_events_purge_is_a_scheduled_job(cli):
    result = cli("jobs")
    assert "events.purge" in result.output and "cron 17 3 * * *" in result.output
    ran = cli("jobs", "run", "events.purge")
    assert ran.exit_code == 0 and "0 events deleted" in ran.output


def test_events_failed_and_replay_commands(cli, sqlite_url):
    from tests.fakes.subscribers import failing, subscribe
    from toolbox_core.events import emit
    from toolbox_core.events.types import Subscriber

    toolbox = Toolbox.create(Settings(database_url=sqlite_url, plugins=[]))
    subscribe(toolbox, Subscriber("printer", ("order.placed",), failing("paper jam"), max_retries=0))
    with toolbox.db.transaction() as session:
        emit(session, "order.placed", {"order_id": "ord_1"})
    toolbox.events.drain()
    [parked] = toolbox.events.failed()
    toolbox.close()

    listed = cli("events", "failed")
    assert listed.exit_code == 0, listed.output
    assert parked.id in listed.output and "printer" in listed.output

    replayed = cli("events", "replay", parked.id)
    assert replayed.exit_code == 0, replayed.output
    assert "1 delivery scheduled again" in replayed.output
    assert "printer" not in cli("events", "failed").output

    status = cli("events", "status")
    assert "pending: 1" in status.output and "failed: 0" in status.output

    unknown = cli("events", "replay", "dlv_unknown")
    assert unknown.exit_code == 1 and "no delivery or event" in unknown.output


def test_only_declared_jobs_are_enqueued_by_name_not_the_kernel_delivery_actor(toolbox):
    with pytest.raises(KeyError, match="kernel actors"):
        toolbox.jobs.enqueue("toolbox.deliver", message={})
    toolbox.events.drain(retry_now=True)
    assert toolbox.events.failed() == [], "nothing was written for a name that is not a job"


def test_a_requested_job_this_process_lacks_is_retried_then_parked_never_run_otherwise(toolbox):
    from toolbox_core.events import emit
    from toolbox_core.events.catalog import JOB_REQUESTED

    with toolbox.db.transaction() as session:  # requested by a process that has the plugin
        emit(session, JOB_REQUESTED, {"job": "images.resize", "kwargs": {"image_id": "img_1"}})
    toolbox.events.drain(retry_now=True)
    [parked] = toolbox.events.failed()
    assert parked.subscriber == "core.jobs" and "no job named 'images.resize'" in parked.last_error

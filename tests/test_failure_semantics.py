"""PermanentFailure and RetryLater are honoured by event deliveries and jobs (embedded and Redis)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select

from tests.fakes.subscribers import JobsPlugin, subscribe
from toolbox_core.api import PermanentFailure, RetryLater
from toolbox_core.config import Settings
from toolbox_core.db.base import utcnow
from toolbox_core.events import emit
from toolbox_core.events.models import EventDelivery
from toolbox_core.events.types import JobSpec, Subscriber
from toolbox_core.kernel import Toolbox


def place_order(toolbox: Toolbox) -> str:
    with toolbox.db.transaction() as session:
        return emit(session, "order.placed", {"order_id": "ord_1"})


def deliveries(toolbox: Toolbox) -> list[EventDelivery]:
    with toolbox.db.session() as session:
        return list(session.scalars(select(EventDelivery)))


def raising(exc: Exception):
    def handler(*args, **kwargs):
        handler.calls += 1
        raise exc

    handler.calls = 0
    return handler


def test_permanent_failure_of_a_subscriber_is_parked_at_once_without_retries(toolbox):
    handler = raising(PermanentFailure("text not approved by the gateway"))
    subscribe(toolbox, Subscriber("sms", ("order.placed",), handler))
    place_order(toolbox)

    toolbox.events.drain(retry_now=True)

    assert handler.calls == 1
    [parked] = toolbox.events.failed()
    assert parked.attempts == 1 and "text not approved" in parked.last_error


def test_retry_later_schedules_the_next_attempt_after_the_given_seconds(toolbox):
    subscribe(toolbox, Subscriber("sms", ("order.placed",), raising(RetryLater("429", after=120))))
    place_order(toolbox)
    before = utcnow()

    toolbox.events.drain()

    [delivery] = deliveries(toolbox)
    assert delivery.status == "pending" and delivery.attempts == 1
    wait = delivery.next_attempt_at.replace(tzinfo=before.tzinfo) - before
    assert timedelta(seconds=119) <= wait <= timedelta(seconds=125)


def test_retry_later_without_a_delay_uses_the_normal_backoff(toolbox):
    subscribe(toolbox, Subscriber("sms", ("order.placed",), raising(RetryLater("busy"))))
    place_order(toolbox)
    before = utcnow()
    toolbox.events.drain()
    [delivery] = deliveries(toolbox)
    wait = delivery.next_attempt_at.replace(tzinfo=before.tzinfo) - before
    assert timedelta(0) < wait < timedelta(seconds=5)


def test_embedded_job_honours_its_job_spec_retries(toolbox):
    job = raising(ConnectionError("gateway down"))
    toolbox.plugins.pm.register(JobsPlugin(jobs=[JobSpec("sms.send", job, max_retries=1)]), name="test.jobs")
    toolbox.jobs.enqueue("sms.send", phone="+998901234567")

    toolbox.events.drain(retry_now=True)

    assert job.calls == 2  # one run and the one retry the spec allows (the default is 5)
    [parked] = toolbox.events.failed()
    assert parked.subscriber == "core.jobs" and parked.attempts == 2


def test_embedded_job_permanent_failure_is_not_retried(toolbox):
    job = raising(PermanentFailure("invalid number"))
    toolbox.plugins.pm.register(JobsPlugin(jobs=[JobSpec("sms.send", job)]), name="test.jobs")
    toolbox.jobs.enqueue("sms.send", phone="+998901234567")
    toolbox.events.drain(retry_now=True)
    assert job.calls == 1
    assert "invalid number" in toolbox.events.failed()[0].last_error


def test_embedded_job_retry_later_waits_the_given_seconds(toolbox):
    toolbox.plugins.pm.register(JobsPlugin(jobs=[JobSpec("sms.send", raising(RetryLater(after=60)))]),
                                name="test.jobs")
    toolbox.jobs.enqueue("sms.send")
    before = utcnow()
    toolbox.events.drain()
    [delivery] = deliveries(toolbox)
    assert delivery.status == "pending"
    assert delivery.next_attempt_at.replace(tzinfo=before.tzinfo) - before >= timedelta(seconds=59)


class Calls:
    def __init__(self, outcomes: list[Exception | None]) -> None:
        self.outcomes = outcomes
        self.times: list[float] = []
        self.done = threading.Event()

    def __call__(self, **kwargs) -> None:
        self.times.append(time.monotonic())
        outcome = self.outcomes[min(len(self.times), len(self.outcomes)) - 1]
        if len(self.times) >= len(self.outcomes):
            self.done.set()
        if outcome is not None:
            raise outcome


def redis_toolbox(sqlite_url: str, redis_url: str, job: JobSpec) -> Toolbox:
    toolbox = Toolbox.create(Settings(database_url=sqlite_url, redis_url=redis_url, plugins=[],
                                      jobs={"min_backoff_ms": 10, "max_backoff_ms": 20}))
    toolbox.plugins.pm.register(JobsPlugin(jobs=[job]), name="test.jobs")
    return toolbox


def test_redis_job_permanent_failure_runs_once(sqlite_url, redis_clean, clean_env):
    calls = Calls([PermanentFailure("invalid number"), None])
    toolbox = redis_toolbox(sqlite_url, redis_clean, JobSpec("sms.send", calls))
    toolbox.jobs.start(threads=1, relay=False)
    try:
        toolbox.jobs.enqueue("sms.send", phone="+998901234567")
        time.sleep(1.5)  # a retry would come after 10-20 ms
        assert len(calls.times) == 1
    finally:
        toolbox.close()


def test_redis_job_retry_later_reruns_after_the_given_delay(sqlite_url, redis_clean, clean_env):
    calls = Calls([RetryLater("429", after=0.8), None])
    toolbox = redis_toolbox(sqlite_url, redis_clean, JobSpec("sms.send", calls))
    toolbox.jobs.start(threads=1, relay=False)
    try:
        toolbox.jobs.enqueue("sms.send")
        assert calls.done.wait(10)
        assert calls.times[1] - calls.times[0] >= 0.75  # not the 10 ms backoff
    finally:
        toolbox.close()


def test_retry_later_delay_ms_is_whole_milliseconds_never_negative():
    assert (RetryLater(after=0.8).delay_ms, RetryLater(after=-5).delay_ms, RetryLater().delay_ms) == (800, 0, None)

"""Events and jobs on the production services: PostgreSQL and the Redis broker."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.fakes.subscribers import Recorder, subscribe
from toolbox_core.config import Settings
from toolbox_core.db.base import utcnow
from toolbox_core.events import emit
from toolbox_core.events.bus import EventBus
from toolbox_core.events.types import Subscriber
from toolbox_core.jobs.worker import serve_worker
from toolbox_core.kernel import Toolbox

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def pg_settings(pg_url, clean_env) -> Settings:
    return Settings(database_url=pg_url, plugins=[])


def emit_orders(toolbox: Toolbox, count: int) -> list[str]:
    with toolbox.db.transaction() as session:
        return [emit(session, "order.placed", {"order_id": f"ord_{n}"}) for n in range(count)]


def test_concurrent_relays_on_postgres_claim_each_event_once(pg_settings):
    relays = [Toolbox.create(pg_settings.model_copy(update={"jobs": pg_settings.jobs.model_copy(update={"relay_batch_size": 20})}))
              for _ in range(3)]
    for toolbox in relays:
        subscribe(toolbox, Subscriber("a", ("order.*",), Recorder()), Subscriber("b", ("*",), Recorder()))
    event_ids = emit_orders(relays[0], 200)
    claimed: list[dict] = []
    lock = threading.Lock()

    def run(toolbox: Toolbox) -> None:
        while messages := toolbox.events.relay():
            for message in messages:
                toolbox.events.deliver(message)
            with lock:
                claimed.extend(messages)

    threads = [threading.Thread(target=run, args=(tb,)) for tb in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    pairs = sorted((m["event"]["id"], m["subscriber"]) for m in claimed)
    assert pairs == sorted((e, s) for e in event_ids for s in ("a", "b"))
    for toolbox in relays:
        toolbox.close()


def test_relay_killed_after_commit_on_postgres_delivers_after_restart(pg_settings):
    first = Toolbox.create(pg_settings)
    subscribe(first, Subscriber("orders", ("order.placed",), Recorder()))
    [event_id] = emit_orders(first, 1)
    assert len(first.events.relay()) == 1
    first.close()  # died before sending

    restarted = Toolbox.create(pg_settings)
    recorder = Recorder()
    subscribe(restarted, Subscriber("orders", ("order.placed",), recorder))
    lease = timedelta(milliseconds=pg_settings.jobs.delivery_lease_ms + 1)
    restarted.__dict__["events"] = EventBus(restarted, clock=lambda: utcnow() + lease)
    restarted.events.drain()
    assert [e.id for e in recorder.events] == [event_id]
    restarted.close()


def test_rolled_back_transaction_on_postgres_publishes_nothing(pg_settings):
    toolbox = Toolbox.create(pg_settings)
    recorder = Recorder()
    subscribe(toolbox, Subscriber("orders", ("order.placed",), recorder))
    with pytest.raises(ValueError), toolbox.db.transaction() as session:
        emit(session, "order.placed", {"order_id": "ord_1"})
        raise ValueError("payment declined")
    assert toolbox.events.drain().delivered == 0 and recorder.events == []
    toolbox.close()


@pytest.mark.redis
def test_worker_delivers_through_the_redis_broker(pg_settings, redis_clean):
    import redis

    # A namespace of its own: the broker, the relay and the key store all write under it.
    jobs = pg_settings.jobs.model_copy(update={"redis_namespace": "shopB"})
    settings = pg_settings.model_copy(update={"redis_url": redis_clean, "jobs": jobs})
    toolbox = Toolbox.create(settings)
    recorder, audit = Recorder(), Recorder()
    subscribe(toolbox, Subscriber("orders", ("order.placed",), recorder), Subscriber("audit", ("*",), audit))
    stop = threading.Event()
    worker = threading.Thread(target=serve_worker, args=(toolbox,),
                              kwargs={"threads": 2, "scheduler": False, "stop": stop})
    worker.start()
    try:
        event_ids = emit_orders(toolbox, 5)
        received = recorder.wait(5)
        audited = audit.wait(5)
    finally:
        stop.set()
        worker.join(30)
    assert sorted(e.id for e in received) == sorted(event_ids)
    assert sorted(e.id for e in audited) == sorted(event_ids)
    keys = redis.Redis.from_url(redis_clean).keys("*")
    assert keys and all(key.startswith(b"shopB:") for key in keys)


@pytest.mark.redis
def test_jobs_enqueued_on_redis_run_in_the_worker(pg_settings, redis_clean):
    from toolbox_core.events.types import JobSpec
    from toolbox_core.plugins import hookimpl

    done = threading.Event()

    class Plugin:
        @hookimpl
        def register_jobs(self, toolbox):
            return [JobSpec("notify.sms", lambda phone: done.set())]

    toolbox = Toolbox.create(pg_settings.model_copy(update={"redis_url": redis_clean}))
    toolbox.plugins.pm.register(Plugin(), name="test.jobs")
    toolbox.jobs.start(threads=1, relay=False)
    try:
        toolbox.jobs.enqueue("notify.sms", phone="+998901234567")
        assert done.wait(10)
    finally:
        toolbox.close()


@pytest.mark.redis
def test_commit_that_emitted_wakes_a_relay_in_another_process_through_redis(pg_settings, redis_clean):
    import redis

    toolbox = Toolbox.create(pg_settings.model_copy(update={"redis_url": redis_clean}))
    toolbox.events  # noqa: B018 - the bus listens for commits from now on
    client = redis.Redis.from_url(redis_clean)
    with toolbox.db.transaction() as session:
        session.info["unrelated"] = True  # a commit without events wakes nobody
    assert client.llen("toolbox:events:relay-wake") == 0

    emit_orders(toolbox, 1)

    assert client.llen("toolbox:events:relay-wake") == 1
    client.close()
    toolbox.close()


def test_a_wake_up_never_waits_long_for_a_redis_that_does_not_answer(settings, caplog):
    import socket
    import time

    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        toolbox = Toolbox.create(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{silent.getsockname()[1]}/0"}))
        try:
            started = time.monotonic()
            toolbox.events.wake_relay()  # times out: logged, not raised
            first = time.monotonic() - started
            started = time.monotonic()
            toolbox.events.wake_relay()  # paused after the failure: Redis is not asked
            second = time.monotonic() - started
        finally:
            toolbox.close()
    finally:
        silent.close()
    assert first < 1.0 and second < 0.05  # at most WAKE_TIMEOUT_SECONDS (twice: connect, then read)
    assert "could not wake the relay through Redis" in caplog.text

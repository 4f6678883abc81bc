"""Events are delivered at least once to every matching subscriber, and failures are parked."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fakes.subscribers import JobsPlugin, Recorder, failing, subscribe
from toolbox_core.db.base import utcnow
from toolbox_core.errors import NotFound
from toolbox_core.events import emit
from toolbox_core.events.bus import EventBus, backoff_ms
from toolbox_core.events.models import EventDelivery
from toolbox_core.events.types import ScheduledJob, Subscriber
from toolbox_core.kernel import Toolbox
from toolbox_core.schemas import ISO_UTC_PATTERN


def place_order(toolbox: Toolbox, order_id: str = "ord_1") -> str:
    with toolbox.db.transaction() as session:
        return emit(session, "order.placed", {"order_id": order_id, "amount": 1_000_00})


def deliveries(toolbox: Toolbox) -> list[EventDelivery]:
    with toolbox.db.session() as session:
        return list(session.scalars(select(EventDelivery).order_by(EventDelivery.subscriber)))


def test_hook_event_subscribers_get_each_committed_event_once(toolbox):
    orders, everything, products = Recorder(), Recorder(), Recorder()
    subscribe(toolbox, Subscriber("orders", ("order.placed",), orders),
              Subscriber("all", ("*",), everything), Subscriber("products", ("product.*",), products))
    event_id = place_order(toolbox)

    result = toolbox.events.drain()

    assert result.delivered == 2 and result.failed == 0
    assert [e.id for e in orders.events] == [event_id]
    assert orders.events[0].payload == {"order_id": "ord_1", "amount": 100000}
    assert re.fullmatch(ISO_UTC_PATTERN, orders.events[0].occurred_at)  # the APIs' one form, ...Z
    assert [e.id for e in everything.events] == [event_id]
    assert products.events == []
    assert {d.status for d in deliveries(toolbox)} == {"done"}
    assert toolbox.events.drain().delivered == 0  # nothing is delivered twice


def test_rolled_back_transaction_publishes_nothing(toolbox):
    recorder = Recorder()
    subscribe(toolbox, Subscriber("orders", ("order.placed",), recorder))
    with pytest.raises(RuntimeError), toolbox.db.transaction() as session:
        emit(session, "order.placed", {"order_id": "ord_1"})
        raise RuntimeError("checkout failed")

    assert toolbox.events.drain().delivered == 0
    assert recorder.events == []
    assert toolbox.events.counts() == {"unpublished": 0, "pending": 0, "done": 0, "failed": 0}


def test_relay_killed_between_commit_and_publish_delivers_after_restart(settings):
    """The relay commits its claim, then dies before sending: a restarted relay delivers."""
    first = Toolbox.create(settings)
    subscribe(first, Subscriber("orders", ("order.placed",), Recorder()))
    event_id = place_order(first)
    claimed = first.events.relay()  # committed claim ...
    assert [m["event"]["id"] for m in claimed] == [event_id]
    first.close()  # ... and the process dies before handing the message to the broker

    restarted = Toolbox.create(settings)
    recorder = Recorder()
    subscribe(restarted, Subscriber("orders", ("order.placed",), recorder))
    assert restarted.events.relay() == []  # the dead relay's claim is still running
    lease = timedelta(milliseconds=settings.jobs.delivery_lease_ms + 1)
    restarted.__dict__["events"] = EventBus(restarted, clock=lambda: utcnow() + lease)

    assert restarted.events.drain().delivered == 1
    assert [e.id for e in recorder.events] == [event_id]
    restarted.close()


def test_unrelayed_events_survive_a_restart(settings):
    first = Toolbox.create(settings)
    event_id = place_order(first)
    first.close()

    restarted = Toolbox.create(settings)
    recorder = Recorder()
    subscribe(restarted, Subscriber("orders", ("order.placed",), recorder))
    restarted.events.drain()
    assert [e.id for e in recorder.events] == [event_id]
    restarted.close()


def test_failing_subscriber_is_retried_then_parked_while_others_ran(toolbox):
    ok = Recorder()
    broken = failing("printer offline")
    subscribe(toolbox, Subscriber("ok", ("order.placed",), ok), Subscriber("broken", ("order.placed",), broken))
    place_order(toolbox)

    toolbox.events.drain(retry_now=True)

    assert len(ok.events) == 1
    assert broken.calls == toolbox.settings.jobs.max_retries + 1
    [parked] = toolbox.events.failed()
    assert parked.subscriber == "broken" and parked.status == "failed"
    assert parked.attempts == toolbox.settings.jobs.max_retries + 1
    assert "printer offline" in parked.last_error


def test_failed_attempt_is_scheduled_with_backoff(toolbox):
    subscribe(toolbox, Subscriber("broken", ("order.placed",), failing()))
    place_order(toolbox)
    before = utcnow()

    toolbox.events.drain()  # one attempt; the retry is in the future

    [delivery] = deliveries(toolbox)
    assert delivery.status == "pending" and delivery.attempts == 1
    wait = delivery.next_attempt_at.replace(tzinfo=before.tzinfo) - before
    assert wait >= timedelta(milliseconds=toolbox.settings.jobs.min_backoff_ms)


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_ms(n, 500, 3000) for n in (1, 2, 3, 4, 5)] == [500, 1000, 2000, 3000, 3000]


def test_subscriber_max_retries_overrides_the_setting(toolbox):
    broken = failing()
    subscribe(toolbox, Subscriber("once", ("order.placed",), broken, max_retries=0))
    place_order(toolbox)
    toolbox.events.drain(retry_now=True)
    assert broken.calls == 1
    assert [d.subscriber for d in toolbox.events.failed()] == ["once"]


def test_replay_of_a_parked_delivery_delivers_it_again(toolbox):
    calls: list[str] = []

    def flaky(event, _toolbox):
        calls.append(event.id)
        if len(calls) <= toolbox.settings.jobs.max_retries + 1:
            raise RuntimeError("down")

    subscribe(toolbox, Subscriber("flaky", ("order.placed",), flaky))
    event_id = place_order(toolbox)
    toolbox.events.drain(retry_now=True)
    [parked] = toolbox.events.failed()

    assert toolbox.events.replay(parked.id) == 1
    toolbox.events.drain()

    assert toolbox.events.failed() == []
    [delivery] = deliveries(toolbox)
    assert delivery.status == "done" and delivery.attempts == 1
    assert calls[-1] == event_id


def test_replay_by_event_id_reschedules_all_its_deliveries(toolbox):
    subscribe(toolbox, Subscriber("a", ("order.placed",), failing()), Subscriber("b", ("order.placed",), failing()))
    event_id = place_order(toolbox)
    toolbox.events.drain(retry_now=True)
    assert toolbox.events.replay(event_id) == 2
    assert {d.status for d in deliveries(toolbox)} == {"pending"}


def test_replay_makes_a_delivery_due_at_the_moment_it_records_as_its_update(toolbox):
    subscribe(toolbox, Subscriber("a", ("order.placed",), failing()))
    place_order(toolbox)
    toolbox.events.drain(retry_now=True)
    [parked] = toolbox.events.failed()
    start = utcnow()
    ticks = iter(range(1, 100))
    toolbox.events.clock = lambda: start + timedelta(seconds=next(ticks))  # every reading is a new time

    toolbox.events.replay(parked.id)

    [delivery] = deliveries(toolbox)
    assert delivery.next_attempt_at == delivery.updated_at


def test_replay_of_an_unknown_id_is_not_found(toolbox):
    with pytest.raises(NotFound):
        toolbox.events.replay("dlv_nope")


def test_subscriber_of_a_disabled_plugin_is_recorded_as_a_failure(settings):
    first = Toolbox.create(settings)
    subscribe(first, Subscriber("gone", ("order.placed",), Recorder()))
    place_order(first)
    claimed = first.events.relay()
    first.close()
    later = Toolbox.create(settings)
    assert later.events.deliver(claimed[0]) is False
    [delivery] = deliveries(later)
    assert "no subscriber named 'gone'" in delivery.last_error
    later.close()


def test_async_subscribers_are_awaited(toolbox):
    seen: list[str] = []

    async def handler(event, _toolbox):
        seen.append(event.name)

    subscribe(toolbox, Subscriber("async", ("order.*",), handler))
    place_order(toolbox)
    toolbox.events.drain()
    assert seen == ["order.placed"]


def test_embedded_workers_deliver_in_process(toolbox):
    recorder = Recorder()
    subscribe(toolbox, Subscriber("orders", ("order.placed",), recorder))
    toolbox.jobs.start(threads=2)
    try:
        first, second = place_order(toolbox, "ord_1"), place_order(toolbox, "ord_2")
        received = recorder.wait(2)
    finally:
        toolbox.jobs.stop()
    assert sorted(e.id for e in received) == sorted([first, second])
    assert {d.status for d in deliveries(toolbox)} == {"done"}


def test_serve_runs_workers_in_process_in_embedded_mode(settings):
    from fastapi.testclient import TestClient

    from toolbox_core.app import create_app


    toolbox = Toolbox.create(settings)
    recorder = Recorder()
    subscribe(toolbox, Subscriber("orders", ("order.placed",), recorder))
    toolbox.plugins.pm.register(JobsPlugin(scheduled=[ScheduledJob("sync", lambda tb, p: None, interval_seconds=900)]))
    with TestClient(create_app(toolbox=toolbox)):
        assert toolbox.jobs.worker is not None and toolbox.scheduler.running
        event_id = place_order(toolbox)
        assert [e.id for e in recorder.wait(1)] == [event_id]
    assert toolbox.jobs.worker is None and not toolbox.scheduler.running
    toolbox.close()



def test_relay_stops_claiming_while_workers_are_behind(settings):
    small = Toolbox.create(settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"relay_batch_size": 2})}))
    subscribe(small, Subscriber("orders", ("order.placed",), Recorder()))
    for n in range(20):
        place_order(small, f"ord_{n}")

    claimed = [m for _ in range(10) for m in small.events.relay()]  # nobody delivers them

    assert len(claimed) == small.events.max_in_flight == 8
    for message in claimed:
        small.events.deliver(message)
    assert len(small.events.relay()) == 2  # room again
    small.close()


def test_undeclared_event_is_still_delivered_but_logged(toolbox, caplog):
    recorder = Recorder()
    subscribe(toolbox, Subscriber("all", ("*",), recorder))
    with toolbox.db.transaction() as session:
        emit(session, "acme.unknown", {})
    toolbox.events.drain()
    assert [e.name for e in recorder.events] == ["acme.unknown"]
    assert "'acme.unknown'" in caplog.text and "not declared" in caplog.text


def test_two_subscribers_with_one_name_are_a_startup_error(toolbox):
    from toolbox_core.plugins import PluginError

    subscribe(toolbox, Subscriber("dup", ("*",), Recorder()), name="one")
    subscribe(toolbox, Subscriber("dup", ("*",), Recorder()), name="two")
    with pytest.raises(PluginError, match="already used by plugin 'one'"):
        toolbox.events.subscribers  # noqa: B018


def test_purge_deletes_old_delivered_events_and_keeps_parked_ones(toolbox):
    subscribe(toolbox, Subscriber("ok", ("order.placed",), Recorder()),
              Subscriber("parked", ("order.canceled",), failing(), max_retries=0))
    place_order(toolbox)
    with toolbox.db.transaction() as session:
        emit(session, "order.canceled", {"order_id": "ord_1"})
    toolbox.events.drain()

    assert toolbox.events.purge_delivered(timedelta(days=1)) == 0  # too recent
    toolbox.__dict__["events"].clock = lambda: utcnow() + timedelta(days=2)
    assert toolbox.events.purge_delivered(timedelta(days=1)) == 1

    assert [d.subscriber for d in deliveries(toolbox)] == ["parked"]
    assert toolbox.events.counts()["failed"] == 1


def test_batched_successes_are_written_together_by_the_idle_sleeping_writer():
    from toolbox_core.events.bus import _DoneBuffer

    batches: list[list[str]] = []
    written = threading.Event()

    def write(ids: list[str]) -> None:
        batches.append(ids)
        written.set()

    buffer = _DoneBuffer(write, interval=0.5)  # long enough that both adds land in one batch
    try:
        assert not buffer._pending.is_set()  # idle: the writer thread waits, it does not poll
        buffer.add("dlv_1")
        buffer.add("dlv_2")
        assert written.wait(5)
        assert batches == [["dlv_1", "dlv_2"]]
        buffer.add("dlv_3")
    finally:
        buffer.close()
    assert batches[-1] == ["dlv_3"] and not buffer._thread.is_alive()

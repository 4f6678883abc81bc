"""The test kit's observation fixtures: captured events, a running worker, an app client."""

from __future__ import annotations

from typing import Any

from tests.fakes.subscribers import Recorder, subscribe
from toolbox_core.api import InventoryService, StockLevel, Subscriber
from toolbox_core.testing import add_variant


def test_capture_events_sees_only_events_committed_after_it_began(toolbox: Any, capture_events: Any) -> None:
    add_variant(toolbox, sku="OLD-1", stock=0)
    add_variant(toolbox, sku="NEW-1", stock=0)
    inventory = InventoryService(toolbox)
    inventory.set_levels([StockLevel("OLD-1", 1)], source="before")
    events = capture_events(toolbox)
    assert events.names() == []
    inventory.set_levels([StockLevel("NEW-1", 3)], source="acme")
    assert events.names() == ["inventory.updated"]
    assert events.one("inventory.updated") == {"skus": ["NEW-1"], "reason": "acme", "order_id": None}


def test_capture_events_one_fails_clearly_when_the_event_is_missing(toolbox: Any, capture_events: Any) -> None:
    events = capture_events(toolbox)
    try:
        events.one("order.placed")
    except AssertionError as exc:
        assert "expected one 'order.placed' event, got 0" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("one() must fail without the event")


def test_start_worker_delivers_events_in_the_background(toolbox: Any, start_worker: Any) -> None:
    recorder = Recorder()
    subscribe(toolbox, Subscriber("test.stock", ("inventory.updated",), recorder))
    add_variant(toolbox, sku="TEA-1", stock=0)
    worker = start_worker(toolbox)
    InventoryService(toolbox).set_levels([StockLevel("TEA-1", 3)], source="acme")
    received = recorder.wait(2, timeout=10)  # no drain: the background worker delivers them
    assert sorted(event.payload["reason"] for event in received) == ["acme", "admin"]  # ours and add_variant's
    worker.drain()
    assert len(recorder.events) == 2, "each event is delivered once"


def test_make_client_serves_the_app_of_a_chosen_toolbox(make_toolbox: Any, make_client: Any) -> None:
    client = make_client(make_toolbox(plugins=["example"]))
    assert client.get("/store/example/courier/regions").json() == {"regions": ["Tashkent", "Toshkent"]}
    assert client.get("/store/carts/nope").status_code == 404

"""Duplicates racing each other on PostgreSQL (several callbacks in flight at once, as when Click
retries a request whose reply it did not get): one attempt row, one capture, one event."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import httpx
import pytest
from click_testkit import ClickSide, Store, som

pytestmark = pytest.mark.postgres

RACERS = 8


def race(store: Store, path: str, fields_list: list[dict[str, str]]) -> list[dict]:
    """POST every form at the same moment, each from its own connection."""
    barrier = Barrier(len(fields_list))

    def send(fields: dict[str, str]) -> dict:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            response = client.post(f"{store.url}{path}", data=fields)
        assert response.status_code == 200
        return response.json()

    with ThreadPoolExecutor(len(fields_list)) as pool:
        return list(pool.map(send, fields_list))


def confirmed_rows(store: Store, order_id: str) -> list[str]:
    from sqlalchemy import text

    with store.toolbox.db.session() as session:
        return list(session.scalars(text("SELECT status FROM click_transactions WHERE order_id = :o"),
                                    {"o": order_id}))


def test_duplicate_prepares_and_completes_racing_give_one_attempt_and_one_capture(make_store) -> None:
    store = make_store(database="postgres")
    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])

    prepared = race(store, "/click/prepare", [ClickSide.fields(0, trans, order["number"], amount)] * RACERS)
    assert {r["error"] for r in prepared} == {0}
    assert len({r["merchant_prepare_id"] for r in prepared}) == 1
    assert confirmed_rows(store, order["id"]) == ["prepared"]
    assert store.events("payment.authorized") == 1

    prepare_id = str(prepared[0]["merchant_prepare_id"])
    completed = race(store, "/click/complete",
                     [ClickSide.fields(1, trans, order["number"], amount, prepare_id=prepare_id)] * RACERS)
    codes = sorted(r["error"] for r in completed)
    assert codes == [-4] * (RACERS - 1) + [0]
    assert store.events("payment.captured") == 1
    assert confirmed_rows(store, order["id"]) == ["confirmed"]


def test_two_click_attempts_for_one_order_never_both_confirm(make_store) -> None:
    store = make_store(database="postgres")
    order = store.order()
    amount = som(order["total"])
    attempts = [store.click.new_trans_id() for _ in range(4)]
    ids = [store.click.prepare(t, order["number"], amount)["merchant_prepare_id"] for t in attempts]
    assert len(set(ids)) == len(attempts)
    completed = race(store, "/click/complete",
                     [ClickSide.fields(1, t, order["number"], amount, prepare_id=str(i)) for t, i in zip(attempts, ids, strict=True)])
    assert sorted(r["error"] for r in completed) == [-4, -4, -4, 0]
    assert sorted(confirmed_rows(store, order["id"])).count("confirmed") == 1
    assert store.events("payment.captured") == 1


def test_a_cancel_racing_a_confirm_leaves_one_consistent_outcome(make_store) -> None:
    store = make_store(database="postgres")
    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepare_id = str(store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"])
    confirm = ClickSide.fields(1, trans, order["number"], amount, prepare_id=prepare_id)
    cancel = ClickSide.fields(1, trans, order["number"], amount, prepare_id=prepare_id, error="-5017")
    replies = race(store, "/click/complete", [confirm, cancel] * 3)
    status = confirmed_rows(store, order["id"])
    confirms = [r["error"] for r, f in zip(replies, [confirm, cancel] * 3, strict=True) if f is confirm]
    if status == ["confirmed"]:
        assert confirms.count(0) == 1 and store.events("payment.captured") == 1
    else:
        assert status == ["cancelled"] and set(confirms) == {-9}
        assert store.events("payment.captured") == 0


def test_a_cancel_racing_a_confirm_while_another_attempt_is_prepared(make_store) -> None:
    """The cancel of one attempt leaves the payment alone while another attempt of the order is
    prepared, so only our own row tells the racers apart: a capture always confirms its attempt."""
    store = make_store(database="postgres")
    order = store.order()
    amount = som(order["total"])
    trans, spare = store.click.new_trans_id(), store.click.new_trans_id()
    prepare_id = str(store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"])
    assert store.click.prepare(spare, order["number"], amount)["error"] == 0
    confirm = ClickSide.fields(1, trans, order["number"], amount, prepare_id=prepare_id)
    cancel = ClickSide.fields(1, trans, order["number"], amount, prepare_id=prepare_id, error="-5017")
    forms = [cancel, confirm] * 3
    replies = race(store, "/click/complete", forms)
    from sqlalchemy import text

    with store.toolbox.db.session() as session:
        status = session.scalar(text("SELECT status FROM click_transactions WHERE click_trans_id = :t"),
                                {"t": int(trans)})
    confirms = [r["error"] for r, f in zip(replies, forms, strict=True) if f is confirm]
    assert {r["error"] for r, f in zip(replies, forms, strict=True) if f is cancel} == {-9}
    if status == "confirmed":
        assert sorted(confirms) == [-4, -4, 0] and store.events("payment.captured") == 1
    else:
        assert status == "cancelled" and set(confirms) == {-9}
        assert store.events("payment.captured") == 0

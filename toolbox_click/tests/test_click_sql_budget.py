"""What one Click payment costs the database: the SQL statements of a Prepare and a Complete on
PostgreSQL, counted at the engine, held to a budget so a change that adds reads to the callback
path (a second lookup, a relationship loaded for nothing) fails here. Round trips are the cost
(each also pays its transaction's BEGIN and COMMIT), and an answer that writes nothing must not
end in a ROLLBACK (psycopg then drops the connection's prepared statements)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click_testkit import som
from sqlalchemy import event

from toolbox_core.testing import in_request, request_statements

pytestmark = pytest.mark.postgres

#: Prepare: ONE locking read (order, payment, our attempt of this click_trans_id, the kernel's
#: earlier authorization of it, the next merchant_prepare_id), then ONE write (the
#: authorization: payment, order, history, outbox, transaction row, and our attempt). Complete:
#: the same read (our attempt by merchant_prepare_id, the earlier capture), then ONE write (the
#: capture, the stock sold, our attempt confirmed).
BUDGET = {"prepare": 2, "complete": 2}


@contextmanager
def rollbacks(engine: Any) -> Iterator[list[int]]:
    """The ROLLBACKs of the served requests' transactions while open."""
    seen: list[int] = []

    def record(_conn: Any) -> None:
        if in_request():
            seen.append(1)

    event.listen(engine, "rollback", record)
    try:
        yield seen
    finally:
        event.remove(engine, "rollback", record)


def test_one_click_payment_stays_within_its_statement_budget(make_store) -> None:
    store = make_store(database="postgres")
    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    used = {}
    with request_statements(store.toolbox.db.engine) as seen:
        prepared = store.click.prepare(trans, order["number"], amount)
    assert prepared["error"] == 0, prepared
    used["prepare"] = len(seen)
    with request_statements(store.toolbox.db.engine) as more:
        completed = store.click.complete(trans, order["number"], amount, prepared["merchant_prepare_id"])
    assert completed["error"] == 0, completed
    used["complete"] = len(more)
    # The counter sees each callback's own work (its event, our row); no read of the history or lines.
    assert any("INSERT INTO outbox_events" in s and "INSERT INTO click_transactions" in s for s in seen), seen
    assert any("INSERT INTO outbox_events" in s and "UPDATE click_transactions" in s for s in more), more
    reads = [s for s in seen + more if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if "FROM order_history" in s or "FROM order_items" in s]
    assert used == {k: min(used[k], BUDGET[k]) for k in BUDGET}, f"over budget: {used} > {BUDGET}"
    assert store.events("payment.authorized") == 1
    assert store.events("payment.captured") == 1


def test_repeats_and_refusals_are_one_read_and_no_rollback(make_store) -> None:
    store = make_store(database="postgres")
    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepare_id = store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"]
    wrong = som(order["total"] + 100)
    engine = store.toolbox.db.engine
    with request_statements(engine) as seen, rollbacks(engine) as rolled_back:
        again = store.click.prepare(trans, order["number"], amount)
        refused = store.click.complete(trans, order["number"], wrong, prepare_id)
        unknown = store.click.complete(trans, order["number"], amount, int(prepare_id) + 1000)
    assert (again["error"], again["merchant_prepare_id"]) == (0, prepare_id)
    assert (refused["error"], unknown["error"]) == (-2, -6)
    assert len(seen) == 3 and all(s.lstrip().upper().startswith("SELECT") for s in seen), seen
    assert rolled_back == []

    assert store.click.complete(trans, order["number"], amount, prepare_id)["error"] == 0
    with request_statements(engine) as seen, rollbacks(engine) as rolled_back:
        assert store.click.complete(trans, order["number"], amount, prepare_id)["error"] == -4
        assert store.click.prepare(trans, order["number"], amount)["error"] == -4
    assert len(seen) == 2 and rolled_back == []
    assert store.events("payment.captured") == 1

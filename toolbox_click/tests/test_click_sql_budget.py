"""What one Click payment costs the database: the SQL statements of a Prepare and a Complete on
PostgreSQL, counted at the engine, held to a budget so a change that adds reads to the callback
path (a second lookup, a relationship loaded for nothing) fails here."""

from __future__ import annotations

import pytest
from click_testkit import som

from toolbox_core.testing import request_statements

pytestmark = pytest.mark.postgres

#: Prepare: the payment and order locks, our row (inserted unless it exists, one statement), the
#: kernel's idempotency read and the writes of the authorization. Complete: the same locks, our
#: row confirmed (one locking UPDATE), the capture's reads and writes (stock sold). On PostgreSQL
#: the kernel writes an authorization or a capture (payment, order, history, outbox, stock) as one
#: statement.
BUDGET = {"prepare": 5, "complete": 6}


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
    # The counter sees each callback's own work (its event); no read of the history or lines.
    assert any("INSERT INTO outbox_events" in s for s in seen), seen
    assert any("INSERT INTO outbox_events" in s for s in more), more
    reads = [s for s in seen + more if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if "FROM order_history" in s or "FROM order_items" in s]
    assert used == {k: min(used[k], BUDGET[k]) for k in BUDGET}, f"over budget: {used} > {BUDGET}"
    assert store.events("payment.captured") == 1

"""What one Payme payment costs the database: the SQL statements of a CheckPerform → Create →
Perform cycle on PostgreSQL, counted at the engine, held to a budget so a change that adds reads
to the callback path (a second lookup, a relationship loaded for nothing) fails here."""

from __future__ import annotations

import pytest

from tests.fakes.payme import payme_id
from toolbox_core.testing import request_statements

pytestmark = pytest.mark.postgres

#: Statements per call: the kassa key, the order with its payment and its lines (Check); the Payme
#: row, payment and order locks, the kernel's idempotency read and the writes (Create, Perform).
#: On PostgreSQL the kernel writes the payment and order changes, the history entry, the outbox
#: row and its transaction row in one statement (``WITH ... INSERT``).
BUDGET = {"CheckPerformTransaction": 3, "CreateTransaction": 7, "PerformTransaction": 8}


def test_one_payme_cycle_stays_within_its_statement_budget(make_payme_store):
    store = make_payme_store(database="postgres")
    order = store.order()
    tx = payme_id()
    calls = {"CheckPerformTransaction": lambda: store.payme.check_perform(order["number"], order["total"]),
             "CreateTransaction": lambda: store.payme.create(tx, order["number"], order["total"]),
             "PerformTransaction": lambda: store.payme.perform(tx)}
    used = {}
    for method, call in calls.items():
        with request_statements(store.toolbox.db.engine) as seen:
            reply = call()
        assert reply.error is None, (method, reply.error)
        used[method] = len(seen)
        writes = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))]
        if method != "CheckPerformTransaction":  # the counter sees the callback's own work
            assert any("INSERT INTO outbox_events" in s for s in writes), seen
        # Never the order's history: the callback answers from the order, payment and Payme rows.
        assert not [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM order_history" in s]
    assert used == {m: min(used[m], BUDGET[m]) for m in BUDGET}, f"over budget: {used} > {BUDGET}"
    assert sum(used.values()) <= 18
    paid = store.get_order(order["id"])
    assert (paid["status"], paid["payment_status"]) == ("placed", "paid")
    assert len(store.outbox("payment.captured")) == 1

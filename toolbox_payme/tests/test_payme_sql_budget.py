"""What one Payme payment costs the database: the SQL statements of a CheckPerform → Create →
Perform cycle on PostgreSQL, counted at the engine, held to a budget so a change that adds reads
to the callback path (a second lookup, a relationship loaded for nothing) fails here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.fakes.payme import payme_id
from toolbox_core.testing import in_request, request_statements

pytestmark = pytest.mark.postgres

#: Statements per call. Check: ONE read (the kassa key, the order, its payment and its lines) on
#: an autocommit connection, so no transaction at all. Create and Perform: one locking read (key,
#: the Payme row, order, payment, the kernel's idempotency row) and ONE write: the payment and
#: order changes, the history entry, the outbox row, the kernel's transaction row, the stock
#: conversion (Perform) and the Payme row, as one statement (``WITH ... SELECT``).
BUDGET = {"CheckPerformTransaction": 1, "CreateTransaction": 2, "PerformTransaction": 2}
#: Transactions per call (each costs a BEGIN and a COMMIT round trip besides its statements).
TRANSACTIONS = {"CheckPerformTransaction": 0, "CreateTransaction": 1, "PerformTransaction": 1}


def test_one_payme_cycle_stays_within_its_statement_budget(make_payme_store):
    store = make_payme_store(database="postgres")
    order = store.order()
    tx = payme_id()
    calls = {"CheckPerformTransaction": lambda: store.payme.check_perform(order["number"], order["total"]),
             "CreateTransaction": lambda: store.payme.create(tx, order["number"], order["total"]),
             "PerformTransaction": lambda: store.payme.perform(tx)}
    used, transactions = {}, {}
    for method, call in calls.items():
        with request_statements(store.toolbox.db.engine) as seen, _transactions(store.toolbox.db.engine) as ended:
            reply = call()
        assert reply.error is None, (method, reply.error)
        used[method], transactions[method] = len(seen), len(ended)
        writes = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))]
        if method != "CheckPerformTransaction":  # the counter sees the callback's own work
            assert any("INSERT INTO outbox_events" in s for s in writes), seen
        # Never the order's history: the callback answers from the order, payment and Payme rows.
        assert not [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM order_history" in s]
    assert used == {m: min(used[m], BUDGET[m]) for m in BUDGET}, f"over budget: {used} > {BUDGET}"
    assert sum(used.values()) <= 5
    assert transactions == TRANSACTIONS
    paid = store.get_order(order["id"])
    assert (paid["status"], paid["payment_status"]) == ("placed", "paid")
    assert len(store.outbox("payment.captured")) == 1


@contextmanager
def _transactions(engine: Any) -> Iterator[list[str]]:
    """The transactions request threads end on ``engine`` (not counting autocommit connections)."""
    ended: list[str] = []

    def record(conn: Any) -> None:
        if in_request() \
                and not getattr(conn.connection.dbapi_connection, "autocommit", False):
            ended.append("end")

    for name in ("commit", "rollback"):
        event.listen(engine, name, record)
    try:
        yield ended
    finally:
        for name in ("commit", "rollback"):
            event.remove(engine, name, record)


def test_a_call_the_short_path_refuses_reads_nothing_twice(make_payme_store):
    """Bad parameters, an unknown order or transaction: the one read, then the kassa key alone for
    the auth (which still comes first), never the order again."""
    store = make_payme_store(database="postgres")
    order = store.order()
    calls = {
        "a bad amount (the key only)": (lambda: store.payme.check_perform(order["number"], 0), -31001, 1),
        "a bad amount with a wrong key": (lambda: store.payme.call(
            "CheckPerformTransaction", {"amount": 0, "account": store.payme.account(order["number"])},
            authorization=store.payme.auth_header(key="wrong")), -32504, 1),
        "an unknown order to check": (lambda: store.payme.check_perform("999999", order["total"]), -31050, 2),
        "an unknown order to create for (read, key, our row)": (
            lambda: store.payme.create(payme_id(), "999999", order["total"]), -31050, 3),
        "an unknown transaction to perform": (lambda: store.payme.perform(payme_id()), -31003, 2),
    }
    for name, (call, code, statements) in calls.items():
        with request_statements(store.toolbox.db.engine) as seen:
            reply = call()
        assert (reply.code, len(seen)) == (code, statements), (name, seen)

"""The SQL budget of a checkout: a store checkout (cart → 3 lines → details → shipping → payment →
complete) over the HTTP API on PostgreSQL costs a fixed, small number of statements, none in a
transaction, and the rows every checkout competes for (stock levels) are locked only inside the
last statement of ``complete`` (autocommit: released when it ends, no round trip later).

These are upper bounds: a change that adds round trips to the hot path fails here rather than
silently slowing every order (the figures are in ``python -m benchmarks checkout --sql``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from tests.checkout.helpers import ADDRESS, PHONE, make_variant, outbox, stock_of
from toolbox_core.cart.models import Cart
from toolbox_core.db.base import utcnow
from toolbox_core.orders.models import Counter, Order, OrderHistory

#: Statements per request of the guest checkout, and in all. A cart edit that skips the WAL flush
#: says so in its own statement (``db.sql.without_wal_flush``): no ``SET`` round trips.
BUDGET = {"create": 1, "add_line": 2, "update": 2, "shipping": 2, "payment": 2, "complete": 2}
TOTAL_BUDGET = 15
#: Transactions (BEGIN ... COMMIT: two round trips more) of the whole checkout: none, every step
#: runs its statements on an autocommit connection, each statement atomic on its own.
TRANSACTION_BUDGET = 0
#: Statements of ``complete`` from the stock lock (``SELECT ... FOR UPDATE``) on: the lock's own.
HOT_WINDOW_BUDGET = 1


class Recorder:
    def __init__(self, engine) -> None:
        self.engine, self.step, self.statements, self.transactions = engine, "-", [], []

    def __enter__(self) -> Recorder:
        event.listen(self.engine, "before_cursor_execute", self._record)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)
        event.remove(self.engine, "commit", self._commit)

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        self.statements.append((self.step, " ".join(statement.split())))

    def _commit(self, conn) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":  # a real COMMIT
            self.transactions.append(self.step)

    def count(self, step: str) -> int:
        return sum(1 for s, _ in self.statements if s == step)

    def of(self, step: str) -> list[str]:
        return [sql for s, sql in self.statements if s == step]


def checkout_over_http(client, variants: list[str], recorder: Recorder) -> str:
    def call(step: str, method: str, path: str, json: dict | None = None) -> dict:
        recorder.step = step
        response = client.request(method, path, json=json)
        assert response.status_code < 400, response.text
        return response.json()

    cart = call("create", "POST", "/store/carts", {"locale": "ru"})["id"]
    for variant in variants:
        call("add_line", "POST", f"/store/carts/{cart}/lines", {"variant_id": variant, "quantity": 1})
    call("update", "PATCH", f"/store/carts/{cart}", {"phone": PHONE, "address": dict(ADDRESS)})
    call("shipping", "POST", f"/store/carts/{cart}/shipping", {"provider_id": "flat", "option_id": "flat"})
    call("payment", "POST", f"/store/carts/{cart}/payment-session", {"provider_id": "cash_on_delivery"})
    return call("complete", "POST", f"/store/carts/{cart}/complete")["order"]["id"]


@pytest.fixture
def pg_store(make_toolbox, make_client):
    toolbox = make_toolbox(database="postgres", redis=True)
    variants = [make_variant(toolbox, stock=5) for _ in range(3)]
    client = make_client(toolbox)
    checkout_over_http(client, variants, Recorder(toolbox.db.engine))  # warm-up: not counted
    return toolbox, client, variants


def test_a_full_checkout_on_postgresql_stays_within_its_statement_budget(pg_store):
    toolbox, client, variants = pg_store
    with Recorder(toolbox.db.engine) as recorder:
        order_id = checkout_over_http(client, variants, recorder)

    counted = {step: recorder.count(step) for step in BUDGET}
    counted["add_line"] = recorder.count("add_line") // len(variants)
    over = {step: (n, BUDGET[step]) for step, n in counted.items() if n > BUDGET[step]}
    assert not over, f"statements over budget (counted, budget): {over}"
    assert len(recorder.statements) <= TOTAL_BUDGET
    assert recorder.transactions == ["complete"] * TRANSACTION_BUDGET
    # ... and the order is whole: items, stock held, numbered history, its event.
    with toolbox.db.session() as session:
        order = session.get(Order, order_id)
        assert [i.sku for i in order.items] and len(order.items) == 3
        assert [(h.kind, h.message) for h in order.history] == [("placed", f"order {order.number} placed")]
    assert all(stock_of(toolbox, v) == (5, 2) for v in variants)
    assert [e["order_id"] for e in outbox(toolbox, "order.placed")][-1] == order_id


def test_stock_rows_are_locked_only_for_the_last_statements_of_complete(pg_store):
    toolbox, client, variants = pg_store
    with Recorder(toolbox.db.engine) as recorder:
        checkout_over_http(client, variants, recorder)

    complete = recorder.of("complete")
    lock = next(i for i, sql in enumerate(complete) if "FROM inventory_levels" in sql and "FOR UPDATE" in sql)
    assert len(complete) - lock <= HOT_WINDOW_BUDGET, complete[lock:]


def test_order_numbers_come_from_the_sequence_and_keep_increasing(pg_store):
    toolbox, client, variants = pg_store
    order_ids = [checkout_over_http(client, variants, Recorder(toolbox.db.engine)) for _ in range(2)]
    with toolbox.db.session() as session:
        drawn = [int(session.scalar(select(Order.number).where(Order.id == o))) for o in order_ids]
        notes = session.scalars(select(OrderHistory.message).where(OrderHistory.order_id.in_(order_ids))).all()
        counter = session.get(Counter, "order_number")
    assert counter is None  # no row that every checkout would queue on
    assert drawn[1] == drawn[0] + 1
    assert sorted(notes) == sorted(f"order {n} placed" for n in drawn)


def test_each_edit_is_one_write_that_moves_the_cart_version_and_extends_its_life(pg_store):
    toolbox, client, variants = pg_store
    cart = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    with toolbox.db.transaction() as session:  # a cart last touched long ago
        session.get(Cart, cart).expires_at = utcnow() + timedelta(days=1)

    with Recorder(toolbox.db.engine) as recorder:
        for variant in variants:
            assert client.post(f"/store/carts/{cart}/lines", json={"variant_id": variant, "quantity": 1}).is_success

    writes = [sql for _, sql in recorder.statements if not sql.startswith("SELECT")]
    assert len(writes) == len(variants)  # the line, the cart's version and its expiry: one statement
    assert all(sql.startswith("WITH v AS (UPDATE carts") and "INSERT INTO cart_lines" in sql for sql in writes)
    assert recorder.transactions == []  # autocommit: no BEGIN/COMMIT round trips
    with toolbox.db.session() as session:
        expires = session.get(Cart, cart).expires_at
    ttl = timedelta(days=toolbox.settings.cart.ttl_days)
    assert expires.replace(tzinfo=None) >= (utcnow() + ttl - timedelta(minutes=2)).replace(tzinfo=None)


@pytest.mark.postgres
def test_the_order_number_sequence_continues_where_the_counter_row_stopped(pg_database_url, clean_env):
    from alembic import command
    from sqlalchemy import create_engine, text

    from toolbox_core.db.migrate import alembic_config
    from toolbox_core.testing.services import fresh_pg_database

    with fresh_pg_database() as url:  # a database numbered by the counter before this migration
        engine = create_engine(url)
        cfg = alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002_hardening")
            conn.execute(text("INSERT INTO counters (name, value) VALUES ('order_number', 1500)"))
            command.upgrade(cfg, "0003_checkoutperf")
            assert conn.execute(text("SELECT nextval('order_numbers')")).scalar_one() == 1501
        engine.dispose()


def test_the_hot_statements_built_once_are_compiled_once():
    """SQLAlchemy caches a statement's compiled SQL only if it can key it (a multi-row
    ``insert().values([...])`` cannot): an uncacheable one is compiled again at every checkout."""
    from toolbox_core.cart import rows
    from toolbox_core.checkout.service import _complete_statement

    statements = [_complete_statement(items) for items in (1, 3)] + [_complete_statement(2, ("customer_id", "phone"))]
    statements += [rows._pg_statement(("address", "expires_at"), ("insert_line", "set_quantity", "delete_line")),
                   rows._pg_statement(("payment_provider_id",), ("insert_payment", "switch_payment"))]
    statements += list(rows._READ.values())
    assert all(statement._generate_cache_key() is not None for statement in statements)

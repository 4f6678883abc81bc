"""Completing a cart on PostgreSQL: one autocommit statement that writes the whole order only if
the cart is still the version read, its payment session still pending and every SKU can be held.

What it must do: hold each SKU at its fullest location, refuse a short cart with the usual 409
and write nothing (no order, no hold, no order number drawn), and read a cart changed between its
read and the write again, so the order is what the cart is when it is placed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.checkout.helpers import (
    make_variant,
    outbox,
    ready_cart,
    sign_in,
    stock_of,
)
from toolbox_core.cart.models import Cart
from toolbox_core.cart.service import CartService
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.errors import ToolboxError
from toolbox_core.inventory.models import InventoryReservation
from toolbox_core.inventory.service import apply_levels, levels
from toolbox_core.orders.models import Order
from toolbox_core.providers import StockLevel


@pytest.fixture
def pg(make_toolbox):
    return make_toolbox(database="postgres")


def orders_of(toolbox, cart_id: str) -> list[Order]:
    with toolbox.db.session() as session:
        return list(session.scalars(select(Order).where(Order.cart_id == cart_id)))


def test_each_sku_is_held_at_the_location_with_the_most_available(pg):
    variant = make_variant(pg, sku="PG-SPLIT", stock=3)
    with pg.db.transaction() as session:
        apply_levels(session, [StockLevel("PG-SPLIT", 5, "chilonzor")])
    order = CheckoutService(pg).complete(ready_cart(pg, variant, quantity=4), None)
    with pg.db.session() as session:
        held = {level.location_code: level.reserved for level in levels(session, "PG-SPLIT")}
        reservations = session.scalars(select(InventoryReservation).where(InventoryReservation.order_id
                                                                          == order.order_id)).all()
    assert held == {"chilonzor": 4, "default": 0}
    assert [(r.sku, r.quantity, r.status) for r in reservations] == [("PG-SPLIT", 4, "active")]


def test_a_short_cart_is_refused_and_writes_nothing_not_even_an_order_number(pg):
    plenty, scarce = make_variant(pg, stock=50), make_variant(pg, sku="PG-SCARCE", stock=2)
    first = CheckoutService(pg).complete(ready_cart(pg, plenty), None)
    carts = CartService(pg)
    short = ready_cart(pg, plenty, quantity=2, also={scarce: 2})
    with pg.db.transaction() as session:  # sold elsewhere after the line was let in
        apply_levels(session, [StockLevel("PG-SCARCE", 1)])

    with pytest.raises(ToolboxError) as refused:
        CheckoutService(pg).complete(short, None)

    assert (refused.value.status, refused.value.code) == (409, "out_of_stock")
    assert refused.value.details == {"items": [{"sku": "PG-SCARCE", "requested": 2, "available": 1}]}
    assert orders_of(pg, short) == []
    assert stock_of(pg, plenty) == (50, 1) and stock_of(pg, scarce) == (1, 0)  # only the first order's hold
    assert carts.get(short, None)["status"] == "open"
    nxt = CheckoutService(pg).complete(ready_cart(pg, plenty), None)
    assert int(nxt.number) == int(first.number) + 1  # the refusal drew no number
    assert [e["order_id"] for e in outbox(pg, "order.placed")] == [first.order_id, nxt.order_id]


def test_a_cart_changed_between_its_read_and_the_write_is_read_again(pg, monkeypatch):
    variant = make_variant(pg, stock=10)
    cart_id = ready_cart(pg, variant, quantity=1)
    prepare, calls = CheckoutService._prepare, []

    def racing(self, db, *args, **kwargs):
        read = prepare(self, db, *args, **kwargs)
        calls.append(1)
        if len(calls) == 1:  # another request changes the cart after this one read it
            CartService(pg).update(cart_id, None, {"email": "late@example.uz"})
        return read

    monkeypatch.setattr(CheckoutService, "_prepare", racing)
    CheckoutService(pg).complete(cart_id, None)

    assert len(calls) == 2
    [placed] = orders_of(pg, cart_id)
    assert placed.email == "late@example.uz"
    assert stock_of(pg, variant) == (10, 1)


def test_a_payment_session_cancelled_meanwhile_asks_for_a_payment_method(pg, monkeypatch):
    variant = make_variant(pg, stock=10)
    cart_id = ready_cart(pg, variant)
    payment_id = CartService(pg).get(cart_id, None)["payment"]["id"]
    prepare = CheckoutService._prepare

    def racing(self, db, *args, **kwargs):
        read = prepare(self, db, *args, **kwargs)
        with pg.db.statements(write=True) as conn:  # the gateway cancelled it meanwhile
            from toolbox_core.payments.models import Payment

            conn.execute(Payment.__table__.update().where(Payment.id == payment_id).values(status="canceled"))
        return read

    monkeypatch.setattr(CheckoutService, "_prepare", racing)
    with pytest.raises(ToolboxError) as refused:
        CheckoutService(pg).complete(cart_id, None)
    assert (refused.value.status, refused.value.code) == (422, "checkout_incomplete")
    assert refused.value.details == {"missing": ["payment"]}
    assert orders_of(pg, cart_id) == [] and stock_of(pg, variant) == (10, 0)


def test_a_signed_in_customer_completing_a_guest_cart_adopts_it(pg):
    variant = make_variant(pg, stock=10)
    cart_id = ready_cart(pg, variant)
    customer_id, _ = sign_in(pg, "+998935550011")

    order = CheckoutService(pg).complete(cart_id, customer_id)

    [placed] = orders_of(pg, cart_id)
    assert placed.id == order.order_id and placed.customer_id == customer_id
    with pg.db.session() as session:
        cart = session.get(Cart, cart_id)
        assert (cart.status, cart.customer_id, cart.order_id) == ("completed", customer_id, placed.id)
        assert session.scalar(select(func.count()).select_from(Order)) == 1


#: Triggers that note the ``synchronous_commit`` in force when a cart or an order is written (an
#: AFTER trigger runs at the end of its statement, inside the transaction the statement commits).
_COMMIT_PROBE = """
CREATE TABLE commit_probe (n serial, tbl text, op text, mode text);
CREATE FUNCTION commit_probe_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commit_probe (tbl, op, mode) VALUES (TG_TABLE_NAME, TG_OP, current_setting('synchronous_commit'));
  RETURN NULL;
END $$;
CREATE TRIGGER commit_probe_carts AFTER INSERT OR UPDATE ON carts FOR EACH ROW EXECUTE FUNCTION commit_probe_note();
CREATE TRIGGER commit_probe_orders AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION commit_probe_note();
"""
_COMMIT_PROBE_DROP = """
DROP TRIGGER IF EXISTS commit_probe_carts ON carts; DROP TRIGGER IF EXISTS commit_probe_orders ON orders;
DROP FUNCTION IF EXISTS commit_probe_note(); DROP TABLE IF EXISTS commit_probe;
"""


@pytest.fixture
def commit_modes(pg):
    """``commit_modes()``: (table, operation, synchronous_commit) of each cart and order write so far."""
    with pg.db.engine.begin() as conn:
        conn.exec_driver_sql(_COMMIT_PROBE_DROP)
        conn.exec_driver_sql(_COMMIT_PROBE)

    def read() -> list[tuple[str, str, str]]:
        with pg.db.statements() as conn:
            return [tuple(r) for r in conn.exec_driver_sql("SELECT tbl, op, mode FROM commit_probe ORDER BY n")]

    yield read
    with pg.db.engine.begin() as conn:
        conn.exec_driver_sql(_COMMIT_PROBE_DROP)


@pytest.mark.parametrize("async_commit", [True, False])
def test_cart_edits_skip_the_wal_flush_unless_configured_and_orders_never_do(pg, async_commit, monkeypatch,
                                                                             commit_modes):
    monkeypatch.setattr(pg.settings.cart, "async_commit", async_commit)
    variant = make_variant(pg, stock=10)
    cart_id = ready_cart(pg, variant)
    edits = "off" if async_commit else "on"
    written = commit_modes()
    assert written[0] == ("carts", "INSERT", edits) and len(written) >= 4
    assert set(written) == {("carts", "INSERT", edits), ("carts", "UPDATE", edits)}
    CheckoutService(pg).complete(cart_id, None)
    placed = commit_modes()[len(written):]
    assert sorted(placed) == [("carts", "UPDATE", "on"), ("orders", "INSERT", "on")]  # the order: always durable
    with pg.db.statements() as conn:  # and no connection was left with the setting changed
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_a_price_past_32_bits_is_sold_and_paid_in_full(pg):
    from toolbox_core.payments.models import Payment

    laptop = make_variant(pg, price=3_000_000_000, stock=3)  # 30 million so'm
    order = CheckoutService(pg).complete(ready_cart(pg, laptop, quantity=2), None)
    with pg.db.session() as session:
        stored = session.get(Order, order.order_id)
        payment = session.scalar(select(Payment).where(Payment.order_id == order.order_id))
    assert stored.subtotal == 6_000_000_000 and stored.total == order.total == 6_000_000_000 + stored.shipping_total
    assert [i.unit_price for i in stored.items] == [3_000_000_000] and payment.amount == stored.total

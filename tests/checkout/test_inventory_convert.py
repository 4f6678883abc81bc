"""Converting an order's reservations into sales: exact levels, once, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.checkout.helpers import make_variant, outbox, ready_cart, stock_of
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.api import PaymentService
from toolbox_core.cart.service import CartService
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.events.models import OutboxEvent
from toolbox_core.inventory import service as inventory
from toolbox_core.inventory.models import InventoryLevel, InventoryReservation, StockLocation
from toolbox_core.plugins.guard import ProviderGuard
from toolbox_core.providers import StockLevel

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _levels(toolbox) -> dict[tuple[str, str], tuple[int, int]]:
    with toolbox.db.session() as session:
        rows = session.execute(select(InventoryLevel.sku, StockLocation.code, InventoryLevel.stocked,
                                      InventoryLevel.reserved)
                               .join(StockLocation, StockLocation.id == InventoryLevel.location_id)).all()
    return {(sku, code): (stocked, reserved) for sku, code, stocked, reserved in rows}


def _reservations(toolbox, order_id: str) -> list[tuple[str, int, str, bool]]:
    with toolbox.db.session() as session:
        rows = session.scalars(select(InventoryReservation).where(InventoryReservation.order_id == order_id)
                               .order_by(InventoryReservation.sku, InventoryReservation.quantity)).all()
        return [(r.sku, r.quantity, r.status, r.settled_at is not None) for r in rows]


@pytest.mark.parametrize("database", DATABASES)
def test_convert_sells_exactly_the_reserved_units_once(make_toolbox, database):
    toolbox = make_toolbox(database=database)
    for sku, stock in (("b-1", 5), ("B-2", 4), ("a-3", 1), ("c-4", 7)):
        make_variant(toolbox, sku=sku, stock=stock)
    with toolbox.db.transaction() as session:
        default = session.scalar(select(InventoryLevel.location_id).where(InventoryLevel.sku == "b-1"))
        session.add(StockLocation(id="loc_north", code="north", name="North"))
        session.flush()
        session.add(InventoryLevel(sku="B-2", location_id="loc_north", stocked=3, reserved=0))
    with toolbox.db.transaction() as session:
        inventory.reserve(session, "ord_1", {"b-1": 2, "B-2": 3, "a-3": 1})
        inventory.reserve(session, "ord_1", {"b-1": 1})  # a second hold of the same level: both are sold
        inventory.reserve(session, "ord_2", {"b-1": 1, "c-4": 2})  # another order's holds stay
        inventory.apply_levels(session, [StockLevel("a-3", 0)])  # fewer on the shelf than held
    assert _levels(toolbox)[("B-2", "default")] == (4, 3) and default

    with toolbox.db.transaction() as session:
        assert inventory.convert(session, "ord_1") == ["B-2", "a-3", "b-1"]  # code-point order
    sold = {("b-1", "default"): (2, 1), ("B-2", "default"): (1, 0), ("B-2", "north"): (3, 0),
            ("a-3", "default"): (0, 0), ("c-4", "default"): (7, 2)}
    assert _levels(toolbox) == sold
    assert _reservations(toolbox, "ord_1") == [("B-2", 3, "converted", True), ("a-3", 1, "converted", True),
                                               ("b-1", 1, "converted", True), ("b-1", 2, "converted", True)]
    assert _reservations(toolbox, "ord_2") == [("b-1", 1, "active", False), ("c-4", 2, "active", False)]
    assert outbox(toolbox, "inventory.updated")[-1] == {"skus": ["B-2", "a-3", "b-1"], "reason": "sold",
                                                        "order_id": "ord_1"}
    with toolbox.db.session() as session:
        event = session.scalars(select(OutboxEvent).where(OutboxEvent.name == "inventory.updated")
                                .order_by(OutboxEvent.occurred_at.desc())).first()
        assert (event.version, event.published_at, event.id.startswith("evt")) == (1, None, True)
    events = len(outbox(toolbox, "inventory.updated"))

    with toolbox.db.transaction() as session:
        assert inventory.convert(session, "ord_1") == []  # idempotent: nothing left to sell
        assert inventory.convert(session, "ord_unknown") == []
    assert _levels(toolbox) == sold
    assert len(outbox(toolbox, "inventory.updated")) == events

    with toolbox.db.transaction() as session:  # a cancel after the sale puts the units back
        assert inventory.restock(session, "ord_1") == ["B-2", "a-3", "b-1"]
    assert _levels(toolbox)[("b-1", "default")] == (5, 1)
    assert _levels(toolbox)[("B-2", "default")] == (4, 0)


@pytest.mark.parametrize("database", DATABASES)
def test_a_paid_order_leaves_exactly_its_units_sold(make_toolbox, database):
    toolbox = make_toolbox(database=database)
    gateway = FakeOnlineProvider()
    toolbox.payment_providers[gateway.id] = ProviderGuard(gateway)
    variant, other = make_variant(toolbox, stock=5), make_variant(toolbox, stock=9)
    carts = CartService(toolbox)
    cart_id = ready_cart(toolbox, variant, quantity=3, provider="test_online", also={other: 2})
    cart = carts.get(cart_id, None)
    order = CheckoutService(toolbox).complete(cart_id, None)
    assert (stock_of(toolbox, variant), stock_of(toolbox, other)) == ((5, 3), (9, 2))
    payments = PaymentService(toolbox)
    for _ in range(2):  # the gateway repeats its report: the stock is sold once
        payments.capture("test_online", cart["payment"]["id"], gateway_transaction_id="gw-1",
                         amount=cart["totals"]["total"])
        assert (stock_of(toolbox, variant), stock_of(toolbox, other)) == ((2, 0), (7, 0))
    sold = [e for e in outbox(toolbox, "inventory.updated") if e["reason"] == "sold"]
    assert len(sold) == 1 and sold[0]["order_id"] == order.order_id and len(sold[0]["skus"]) == 2
    assert sold[0]["skus"] == sorted(sold[0]["skus"])
    assert {s for _, _, s, _ in _reservations(toolbox, order.order_id)} == {"converted"}


@pytest.mark.postgres
def test_concurrent_converts_and_reservations_stay_exact_on_postgresql(make_toolbox):
    from concurrent.futures import ThreadPoolExecutor

    toolbox = make_toolbox(database="postgres")
    make_variant(toolbox, sku="RACE-X", stock=100)
    make_variant(toolbox, sku="RACE-Y", stock=100)
    orders = [f"ord_race_{i}" for i in range(20)]
    for order_id in orders:
        with toolbox.db.transaction() as session:
            inventory.reserve(session, order_id, {"RACE-X": 1, "RACE-Y": 2})

    def convert(order_id: str) -> list[str]:
        with toolbox.db.transaction() as session:
            return inventory.convert(session, order_id)

    def reserve(i: int) -> None:
        with toolbox.db.transaction() as session:
            inventory.reserve(session, f"ord_new_{i}", {"RACE-X": 1, "RACE-Y": 1})

    with ThreadPoolExecutor(max_workers=6) as pool:  # every order converted twice at once, holds in between
        jobs = [pool.submit(convert, o) for o in orders + orders] + [pool.submit(reserve, i) for i in range(10)]
        results = [job.result() for job in jobs[:40]]
        for job in jobs[40:]:
            job.result()
    assert sorted(map(tuple, results)) == [()] * 20 + [("RACE-X", "RACE-Y")] * 20  # each sold once
    assert _levels(toolbox) == {("RACE-X", "default"): (80, 10), ("RACE-Y", "default"): (60, 10)}
    assert len([e for e in outbox(toolbox, "inventory.updated") if e["reason"] == "sold"]) == 20


@pytest.mark.parametrize("database", DATABASES)
def test_release_restock_and_convert_are_one_mechanism_each_exactly_once(make_toolbox, database):
    toolbox = make_toolbox(database=database)
    make_variant(toolbox, sku="rel-1", stock=6)
    make_variant(toolbox, sku="rel-2", stock=4)
    with toolbox.db.transaction() as session:
        inventory.reserve(session, "ord_r1", {"rel-1": 2, "rel-2": 1})
        inventory.reserve(session, "ord_r2", {"rel-1": 1})
    assert _levels(toolbox) == {("rel-1", "default"): (6, 3), ("rel-2", "default"): (4, 1)}

    with toolbox.db.transaction() as session:  # a cancel before payment: held stock is available again
        assert inventory.release(session, "ord_r1") == ["rel-1", "rel-2"]
        assert inventory.release(session, "ord_r1") == []
        assert inventory.restock(session, "ord_r1") == []  # nothing was sold
    assert _levels(toolbox) == {("rel-1", "default"): (6, 1), ("rel-2", "default"): (4, 0)}
    assert _reservations(toolbox, "ord_r1") == [("rel-1", 2, "released", True), ("rel-2", 1, "released", True)]
    assert [e for e in outbox(toolbox, "inventory.updated") if e["order_id"] == "ord_r1"] == [
        {"skus": ["rel-1", "rel-2"], "reason": "released", "order_id": "ord_r1"}]

    with toolbox.db.transaction() as session:  # sold, then canceled: back on the shelf, once
        assert inventory.convert(session, "ord_r2") == ["rel-1"]
        assert inventory.release(session, "ord_r2") == []  # nothing is held any more
    with toolbox.db.transaction() as session:
        assert inventory.restock(session, "ord_r2") == ["rel-1"]
        assert inventory.restock(session, "ord_r2") == []
    assert _levels(toolbox) == {("rel-1", "default"): (6, 0), ("rel-2", "default"): (4, 0)}
    assert [e["reason"] for e in outbox(toolbox, "inventory.updated") if e["order_id"] == "ord_r2"] == [
        "sold", "restocked"]

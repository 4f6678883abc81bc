"""Concurrency on real PostgreSQL: no oversell, and one order/capture whatever races."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.checkout.helpers import make_variant, outbox, ready_cart, stock_of
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.api import PaymentService
from toolbox_core.cart.service import CartService
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.config import Settings
from toolbox_core.errors import ToolboxError
from toolbox_core.kernel import Toolbox
from toolbox_core.orders.models import Order
from toolbox_core.payments.models import PaymentTransaction
from toolbox_core.plugins.guard import ProviderGuard


@pytest.fixture
def pg_toolbox(pg_url, clean_env):
    toolbox = Toolbox.create(Settings(database_url=pg_url, plugins=[]))
    toolbox.db = type(toolbox.db)(pg_url, pool_size=25)
    yield toolbox
    toolbox.close()


def test_200_concurrent_checkouts_for_10_units_make_exactly_10_orders(pg_toolbox):
    toolbox = pg_toolbox
    variant = make_variant(toolbox, stock=10)
    carts = [ready_cart(toolbox, variant) for _ in range(200)]
    barrier = threading.Barrier(50)

    def attempt(cart_id: str) -> str:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)
        try:
            CheckoutService(toolbox).complete(cart_id, None)
            return "ok"
        except ToolboxError as exc:
            return f"{exc.status}:{exc.code}"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(attempt, carts))

    assert outcomes.count("ok") == 10
    assert set(outcomes) == {"ok", "409:out_of_stock"}
    assert stock_of(toolbox, variant) == (10, 10)
    with toolbox.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 10
        numbers = sorted(int(n) for n in session.scalars(select(Order.number)))
    assert numbers == list(range(numbers[0], numbers[0] + 10))
    assert len(outbox(toolbox, "order.placed")) == 10


def test_gateway_callback_racing_complete_yields_one_order_one_capture_one_event(pg_toolbox):
    toolbox = pg_toolbox
    gateway = FakeOnlineProvider()
    toolbox.payment_providers[gateway.id] = ProviderGuard(gateway)
    variant = make_variant(toolbox, stock=5)
    cart_id = ready_cart(toolbox, variant, provider="test_online")
    cart = CartService(toolbox).get(cart_id, None)
    payment_id, total = cart["payment"]["id"], cart["totals"]["total"]
    barrier = threading.Barrier(16)

    def storefront() -> str:
        barrier.wait(timeout=10)
        try:
            return CheckoutService(toolbox).complete(cart_id, None).order_id
        except ToolboxError as exc:
            return exc.code

    def callback() -> str:
        barrier.wait(timeout=10)
        return PaymentService(toolbox).capture("test_online", payment_id, gateway_transaction_id="gw-42",
                                               amount=total).order_id

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(storefront if i % 2 else callback) for i in range(16)]
        results = [f.result() for f in futures]

    with toolbox.db.session() as session:
        order_ids = list(session.scalars(select(Order.id)))
        captures = session.scalar(select(func.count()).select_from(PaymentTransaction)
                                  .where(PaymentTransaction.kind == "capture"))
        order = session.get(Order, order_ids[0])
        assert (order.status, order.payment_status) == ("placed", "paid")
    assert len(order_ids) == 1
    assert captures == 1
    assert len(outbox(toolbox, "payment.captured")) == 1
    assert len(outbox(toolbox, "order.placed")) == 1
    assert set(results) <= {order_ids[0], "cart_completed"}
    assert stock_of(toolbox, variant) == (4, 0)


def test_bulk_stock_update_never_loses_a_concurrent_reservation(pg_toolbox):
    from toolbox_core.inventory.service import apply_levels
    from toolbox_core.providers import StockLevel

    toolbox = pg_toolbox
    variant = make_variant(toolbox, sku="BULK-1", stock=100)
    carts = [ready_cart(toolbox, variant) for _ in range(20)]

    def checkout(cart_id: str) -> None:
        CheckoutService(toolbox).complete(cart_id, None)

    def bulk(_: int) -> None:
        with toolbox.db.transaction() as session:
            apply_levels(session, [StockLevel("BULK-1", 50)], source="test")

    with ThreadPoolExecutor(max_workers=10) as pool:
        jobs = [pool.submit(checkout, c) for c in carts] + [pool.submit(bulk, i) for i in range(10)]
        for job in jobs:
            job.result()
    assert stock_of(toolbox, variant) == (50, 20)

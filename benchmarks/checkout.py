"""Full checkout over HTTP on PostgreSQL: cart → 3 items → address → shipping → payment → complete.

    python -m benchmarks checkout [--seconds 8] [--concurrency 16] [--workers 2] [--stock 100000]

Prints ``checkout_orders_per_s``, ``checkout_p50``/``checkout_p99`` (whole checkout, 8 requests),
``checkout_errors``, and the end-of-run audit: ``checkout_oversold`` (units sold beyond stock or
reserved counts that disagree with live reservations) and ``checkout_lost_events`` (orders
without their ``order.placed`` outbox row). Targets: ≥150 orders/s, p99 < 250 ms, 0 and 0.

The server runs with Redis (``TOOLBOX_BENCH_CHECKOUT_REDIS_URL``, default: the harness's claimed database, flushed first),
as in production; see :func:`fresh_redis`.
"""

from __future__ import annotations

import argparse
import os

import httpx

from benchmarks.harness import (
    ADDRESS,
    REDIS_URL,
    Server,
    figure,
    flushed_redis,
    fresh_database,
    machine,
    open_toolbox,
    scenario_load,
)

CHECKOUT_REDIS_URL = os.environ.get("TOOLBOX_BENCH_CHECKOUT_REDIS_URL") or REDIS_URL


def fresh_redis() -> str:
    """Flush and return this benchmark's own Redis database (``TOOLBOX_BENCH_CHECKOUT_REDIS_URL``).

    Events stay in the outbox (no ``toolbox worker`` competes for the 2 cores); the audit reads
    them there.
    """
    return flushed_redis(CHECKOUT_REDIS_URL)


def seed(url: str, stock: int) -> list[str]:
    """Three published variants with ``stock`` units each; returns their ids."""
    from toolbox_core.catalog.models import Product, ProductTranslation, ProductVariant
    from toolbox_core.inventory.service import apply_levels
    from toolbox_core.providers import StockLevel

    toolbox = open_toolbox(url)
    ids = []
    with toolbox.db.transaction() as session:
        for n in range(3):
            product = Product(id=f"prod_bench{n}", handle=f"bench-{n}", status="published")
            product.translations = [ProductTranslation(locale="ru", title=f"Товар {n}")]
            product.variants = [ProductVariant(id=f"var_bench{n}", sku=f"BENCH-{n}", price=100_000 * (n + 1))]
            session.add(product)
            ids.append(f"var_bench{n}")
        apply_levels(session, [StockLevel(f"BENCH-{n}", stock) for n in range(3)])
    toolbox.close()
    return ids


def make_scenario(variants: list[str]):
    async def checkout(client: httpx.AsyncClient, n: int) -> None:
        async def call(method: str, path: str, **kw: object) -> dict:
            response = await client.request(method, path, **kw)
            if response.status_code >= 400:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
            return response.json()

        cart = (await call("POST", "/store/carts", json={"locale": "ru"}))["id"]
        for variant in variants:
            await call("POST", f"/store/carts/{cart}/lines", json={"variant_id": variant, "quantity": 1})
        await call("PATCH", f"/store/carts/{cart}", json={"phone": "+998901234567", "address": ADDRESS})
        await call("POST", f"/store/carts/{cart}/shipping", json={"provider_id": "flat", "option_id": "flat"})
        await call("POST", f"/store/carts/{cart}/payment-session", json={"provider_id": "cash_on_delivery"})
        await call("POST", f"/store/carts/{cart}/complete")

    return checkout


def audit(url: str, stock: int) -> tuple[int, int, int]:
    """(orders, oversold units or reservation mismatches, orders without an order.placed event)."""
    from sqlalchemy import func, select

    from toolbox_core.events.models import OutboxEvent
    from toolbox_core.inventory.models import InventoryLevel, InventoryReservation
    from toolbox_core.orders.models import Order, OrderItem

    toolbox = open_toolbox(url)
    with toolbox.db.session() as session:
        orders = session.scalar(select(func.count()).select_from(Order))
        sold = dict(session.execute(select(OrderItem.sku, func.sum(OrderItem.quantity)).group_by(OrderItem.sku)).all())
        held = dict(session.execute(
            select(InventoryReservation.sku, func.sum(InventoryReservation.quantity))
            .where(InventoryReservation.status == "active").group_by(InventoryReservation.sku)).all())
        levels = {sku: (stocked, reserved) for sku, stocked, reserved in session.execute(
            select(InventoryLevel.sku, InventoryLevel.stocked, InventoryLevel.reserved))}
        placed = set(session.scalars(select(OutboxEvent.payload["order_id"].as_string())
                                     .where(OutboxEvent.name == "order.placed")))
        order_ids = set(session.scalars(select(Order.id)))
    toolbox.close()
    oversold = 0
    for sku, (stocked, reserved) in levels.items():
        oversold += max(0, int(sold.get(sku, 0)) - stock)
        oversold += abs(reserved - int(held.get(sku, 0)))
        oversold += max(0, reserved - stocked)
    return orders, oversold, len(order_ids - placed)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks checkout")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stock", type=int, default=100_000)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    opts = parser.parse_args(argv)
    machine()
    with fresh_database(opts.database) as url:
        variants = seed(url, opts.stock)
        with Server(url, workers=opts.workers, env={"TOOLBOX_REDIS_URL": fresh_redis()}) as server:
            result = scenario_load(server.url, make_scenario(variants), concurrency=opts.concurrency,
                                   seconds=opts.seconds)
        orders, oversold, lost = audit(url, opts.stock)
    figure("checkout_orders_per_s", result.rps, "orders/s")
    figure("checkout_p50", result.p50_ms, "ms")
    figure("checkout_p99", result.p99_ms, "ms")
    figure("checkout_errors", result.errors, "")
    figure("checkout_orders", orders, "")
    figure("checkout_oversold", oversold, "units")
    figure("checkout_lost_events", lost, "")

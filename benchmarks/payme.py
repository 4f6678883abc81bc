"""Payme Merchant API on PostgreSQL: full Check → Create → Perform cycles from concurrent clients.

    python -m benchmarks payme [--seconds 8] [--concurrency 16] [--workers 2] [--orders 4000]

Orders awaiting a Payme payment are placed first (in-process, through the checkout service);
then ``concurrency`` clients each take the next order and play Payme's three calls over HTTP
(JSON-RPC, Basic auth) against ``uvicorn`` with ``workers`` processes.

Prints ``payme_cycles_per_s`` (target ≥ 300), ``payme_callback_p50`` / ``payme_callback_p99``
(one callback, target p99 < 30 ms), ``payme_cycle_p99``, ``payme_errors`` and the audit:
``payme_paid_orders`` (orders paid) and ``payme_captured_events`` (must equal the cycles).
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from benchmarks.harness import (
    Server,
    _pct,
    figure,
    flushed_redis,
    fresh_database,
    machine,
    open_toolbox,
    payment_audit,
    place_order,
    scenario_load,
)

MERCHANT_ID = "5e730e8e0b852a417aa49ceb"
TEST_KEY = "benchKEY-0123456789abcdefghijklmnopq"
PAYME_ENV = {"TOOLBOX_PAYME__MERCHANT_ID": MERCHANT_ID, "TOOLBOX_PAYME__KEY": "prod-" + TEST_KEY[5:],
             "TOOLBOX_PAYME__TEST_KEY": TEST_KEY, "TOOLBOX_PAYME__TEST_MODE": "true"}


def place_orders(url: str, count: int) -> list[tuple[str, int]]:
    """``count`` orders awaiting a Payme payment; returns (number, total) of each."""
    from toolbox_core.cart.service import CartService
    from toolbox_core.catalog.models import Product, ProductTranslation, ProductVariant
    from toolbox_core.checkout.service import CheckoutService
    from toolbox_core.inventory.service import apply_levels
    from toolbox_core.providers import StockLevel

    toolbox = open_toolbox(url, plugins=["payme"])
    with toolbox.db.transaction() as session:
        product = Product(id="prod_payme_bench", handle="payme-bench", status="published")
        product.translations = [ProductTranslation(locale="ru", title="Дрель")]
        product.variants = [ProductVariant(id="var_payme_bench", sku="PAYME-BENCH", price=1_500_000,
                                           mxik_code="00702001001000001", package_code="1234", vat_percent=12)]
        session.add(product)
        apply_levels(session, [StockLevel("PAYME-BENCH", count * 2)])
    carts, checkout = CartService(toolbox), CheckoutService(toolbox)

    with ThreadPoolExecutor(4) as pool:
        orders = list(pool.map(lambda _: place_order(carts, checkout, "var_payme_bench", "payme"), range(count)))
    toolbox.close()
    return orders


def make_scenario(orders: list[tuple[str, int]], latencies: list[float]):
    auth = {"Authorization": "Basic " + base64.b64encode(f"Paycom:{TEST_KEY}".encode()).decode(),
            "Content-Type": "text/json; charset=UTF-8"}

    async def cycle(client: httpx.AsyncClient, n: int) -> None:
        if n > len(orders):
            raise RuntimeError("out of orders: raise --orders")
        number, total = orders[n - 1]
        tx = secrets.token_hex(12)
        calls = [("CheckPerformTransaction", {"amount": total, "account": {"order_id": number}}),
                 ("CreateTransaction", {"id": tx, "time": time.time_ns() // 1_000_000, "amount": total,
                                        "account": {"order_id": number}}),
                 ("PerformTransaction", {"id": tx})]
        for request_id, (method, params) in enumerate(calls, 1):
            started = time.perf_counter()
            response = await client.post("/payme/callback", headers=auth,
                                         json={"method": method, "params": params, "id": request_id})
            latencies.append((time.perf_counter() - started) * 1000)
            body = response.json()
            if response.status_code != 200 or "error" in body:
                raise RuntimeError(f"{method}: {response.status_code} {body}")

    return cycle


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks payme")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--orders", type=int, default=4000)
    opts = parser.parse_args(argv)
    machine()
    os.environ.update(PAYME_ENV)  # the plugin's settings, for the in-process seeding and migrate
    with fresh_database("postgres", plugins=["payme"]) as url:
        started = time.perf_counter()
        orders = place_orders(url, opts.orders)
        figure("payme_orders_placed", len(orders), f"in {time.perf_counter() - started:.1f} s")
        latencies: list[float] = []
        env = {**PAYME_ENV, "TOOLBOX_REDIS_URL": flushed_redis()}
        with Server(url, workers=opts.workers, plugins=["payme"], env=env) as server:
            result = scenario_load(server.url, make_scenario(orders, latencies), concurrency=opts.concurrency,
                                   seconds=opts.seconds, max_iterations=len(orders))
        paid, captured = payment_audit(url)
    figure("load_average_1m", os.getloadavg()[0], "(other processes share the cores)")
    figure("payme_cycles_per_s", result.rps, "cycles/s")
    figure("payme_callback_p50", _pct(latencies, 50), "ms")
    figure("payme_callback_p99", _pct(latencies, 99), "ms")
    figure("payme_cycle_p99", result.p99_ms, "ms")
    figure("payme_errors", result.errors, "")
    figure("payme_paid_orders", paid, "")
    figure("payme_captured_events", captured, f"(cycles completed: {result.requests})")

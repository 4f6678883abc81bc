"""Click SHOP API callbacks over HTTP on PostgreSQL: Prepare + Complete per payment.

    python -m benchmarks click [--seconds 8] [--concurrency 16] [--workers 2] [--orders 3000]

Orders awaiting a Click payment (one of ``PRODUCTS`` products each) are placed in-process
first (through the cart and checkout services, as the storefront would); then ``concurrency``
clients play Click, each taking the next order and sending a signed Prepare, then a signed
Complete, as form fields, to a server with the ``click`` plugin enabled (``workers`` uvicorn
processes, Redis as in production).

Prints ``click_payments_per_s`` (Prepare + Complete pairs per second), ``click_callback_p50`` /
``click_callback_p99`` (one callback), ``click_errors`` (a reply whose ``error`` is not 0, or an
HTTP failure), ``click_callback_in_process_wall`` / ``_cpu`` (one callback run sequentially
in-process, without HTTP: its wall time and the Python CPU it costs), and the audit of the
HTTP run: ``click_paid_orders`` and ``click_captured_events`` (must equal the payments made).
Targets: ≥300 payments/s, callback p99 < 30 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

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

SERVICE_ID, MERCHANT_ID, MERCHANT_USER_ID, SECRET = 30001, 17001, 40001, "bench-secret"
CLICK_ENV = {"TOOLBOX_CLICK__SERVICE_ID": str(SERVICE_ID), "TOOLBOX_CLICK__MERCHANT_ID": str(MERCHANT_ID),
             "TOOLBOX_CLICK__MERCHANT_USER_ID": str(MERCHANT_USER_ID), "TOOLBOX_CLICK__SECRET_KEY": SECRET}
#: Orders paid first in-process, one callback at a time, to measure one callback's own cost.
IN_PROCESS = 50
#: Distinct products the orders buy (a store sells many; one hot stock row would serialize captures).
PRODUCTS = 20


def seed(url: str, count: int) -> list[tuple[str, int]]:
    """``count`` Click orders awaiting payment; returns (number, total tiyin) of each."""
    from toolbox_core.cart.service import CartService
    from toolbox_core.catalog.models import Product, ProductTranslation, ProductVariant
    from toolbox_core.checkout.service import CheckoutService
    from toolbox_core.inventory.service import apply_levels
    from toolbox_core.providers import StockLevel

    toolbox = open_toolbox(url, plugins=["click"])
    with toolbox.db.transaction() as session:
        for n in range(PRODUCTS):
            product = Product(id=f"prod_click{n}", handle=f"click-bench-{n}", status="published")
            product.translations = [ProductTranslation(locale="ru", title=f"Товар {n}")]
            product.variants = [ProductVariant(id=f"var_click{n}", sku=f"CLICK-{n}", price=1_234_500 + n)]
            session.add(product)
        apply_levels(session, [StockLevel(f"CLICK-{n}", count) for n in range(PRODUCTS)])
    carts, checkout = CartService(toolbox), CheckoutService(toolbox)
    orders = [place_order(carts, checkout, f"var_click{i % PRODUCTS}", "click") for i in range(count)]
    toolbox.close()
    return orders


def signed(action: int, trans: str, number: str, amount: str, prepare_id: str = "") -> dict[str, str]:
    fields = {"click_trans_id": trans, "service_id": str(SERVICE_ID), "click_paydoc_id": trans,
              "merchant_trans_id": number, "amount": amount, "action": str(action), "error": "0",
              "error_note": "Success", "sign_time": "2026-12-02 14:00:00"}
    if action == 1:
        fields["merchant_prepare_id"] = prepare_id
    text = trans + str(SERVICE_ID) + SECRET + number + prepare_id + amount + str(action) + fields["sign_time"]
    fields["sign_string"] = hashlib.md5(text.encode()).hexdigest()
    return fields


def make_scenario(orders: list[tuple[str, int]], latencies: list[float]):
    from toolbox_click.protocol import tiyin_to_som

    queue = list(reversed(orders))

    async def pay(client: httpx.AsyncClient, n: int) -> None:
        number, total = queue.pop()
        amount = tiyin_to_som(total)
        trans = str(700_000_000 + n)

        async def callback(path: str, fields: dict[str, str]) -> dict:
            started = time.perf_counter()
            response = await client.post(path, data=fields)
            latencies.append((time.perf_counter() - started) * 1000)
            body = response.json()
            if response.status_code != 200 or body.get("error") != 0:
                raise RuntimeError(f"{path}: {response.status_code} {body}")
            return body

        prepared = await callback("/click/prepare", signed(0, trans, number, amount))
        await callback("/click/complete", signed(1, trans, number, amount, str(prepared["merchant_prepare_id"])))

    return pay


def cpu_per_callback(url: str, orders: list[tuple[str, int]]) -> tuple[float, float]:
    """(wall ms, CPU ms of this process) per callback, sequential and in-process (no HTTP), so
    the cost of one callback is known even on a busy machine. PostgreSQL's own CPU is not in it."""
    from toolbox_click.protocol import tiyin_to_som
    from toolbox_click.shop import ClickShop

    toolbox = open_toolbox(url, plugins=["click"])
    shop = ClickShop(toolbox, toolbox.plugin_settings("click"))
    wall, cpu = time.perf_counter(), time.process_time()
    for n, (number, total) in enumerate(orders):
        amount, trans = tiyin_to_som(total), str(600_000_000 + n)
        prepared = shop.handle(signed(0, trans, number, amount), 0)
        done = shop.handle(signed(1, trans, number, amount, str(prepared["merchant_prepare_id"])), 1)
        if done["error"] != 0:
            raise RuntimeError(f"in-process Complete failed: {done}")
    calls = 2 * len(orders)
    result = ((time.perf_counter() - wall) * 1000 / calls, (time.process_time() - cpu) * 1000 / calls)
    toolbox.close()
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks click")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--orders", type=int, default=3000)
    opts = parser.parse_args(argv)
    machine()
    os.environ.update(CLICK_ENV)  # for the in-process seeding and audit kernels
    with fresh_database("postgres", plugins=["click"]) as url:
        started = time.perf_counter()
        orders = seed(url, opts.orders)
        figure("click_seeded_orders", len(orders), f"in {time.perf_counter() - started:.1f} s")
        wall_ms, cpu_ms = cpu_per_callback(url, orders[:IN_PROCESS])
        orders = orders[IN_PROCESS:]
        latencies: list[float] = []
        env = {**CLICK_ENV, "TOOLBOX_REDIS_URL": flushed_redis()}
        with Server(url, workers=opts.workers, plugins=["click"], env=env) as server:
            result = scenario_load(server.url, make_scenario(orders, latencies), concurrency=opts.concurrency,
                                   seconds=opts.seconds, max_iterations=len(orders))
        paid, captured = payment_audit(url, plugins=["click"])
        paid, captured = paid - IN_PROCESS, captured - IN_PROCESS  # the in-process ones
    figure("click_payments_per_s", result.rps, "payments/s")
    figure("click_payment_p99", result.p99_ms, "ms")
    figure("click_callback_p50", _pct(latencies, 50), "ms")
    figure("click_callback_p99", _pct(latencies, 99), "ms")
    figure("click_callback_in_process_wall", wall_ms, "ms")
    figure("click_callback_in_process_cpu", cpu_ms, "ms")
    figure("click_errors", result.errors, "")
    figure("click_paid_orders", paid, "")
    figure("click_captured_events", captured, "")
    if result.requests == len(orders):
        figure("click_note", "all seeded orders were paid before the time ran out: raise --orders")


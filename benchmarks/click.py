"""Click SHOP API callbacks over HTTP on PostgreSQL: Prepare + Complete per payment.

    python -m benchmarks click [--seconds 8] [--concurrency 16] [--workers 2] [--orders 3000]

Orders awaiting a Click payment (one of ``PRODUCTS`` products each) are placed in-process
first (through the cart and checkout services, as the storefront would); then ``concurrency``
clients play Click, each taking the next order and sending a signed Prepare, then a signed
Complete, as form fields, to a server with the ``click`` plugin enabled (``workers`` uvicorn
processes, Redis as in production), after ``--warm-up`` payments (2 per client) that are
not measured: like the in-process part, the figures leave out each worker's first-use costs.

Prints ``click_payments_per_s`` (Prepare + Complete pairs per second), ``click_callback_p50`` /
``click_callback_p99`` (one callback), ``click_errors`` (a reply whose ``error`` is not 0, or an
HTTP failure), ``click_sql_per_payment`` / ``click_transactions_per_payment`` /
``click_round_trips_per_payment`` (counted in-process; ``--sql`` prints the statements of one
Prepare and one Complete), ``click_callback_in_process_wall`` / ``_cpu`` (one callback run sequentially
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
    CostMeter,
    LoadResult,
    Server,
    StatementCount,
    _pct,
    counting_statements,
    figure,
    flushed_redis,
    fresh_database,
    machine,
    open_toolbox,
    payment_audit,
    pin_generator,
    place_order,
    process_tree,
    scenario_load,
    wrk_lua,
)

SERVICE_ID, MERCHANT_ID, MERCHANT_USER_ID, SECRET = 30001, 17001, 40001, "bench-secret"
CLICK_ENV = {"TOOLBOX_CLICK__SERVICE_ID": str(SERVICE_ID), "TOOLBOX_CLICK__MERCHANT_ID": str(MERCHANT_ID),
             "TOOLBOX_CLICK__MERCHANT_USER_ID": str(MERCHANT_USER_ID), "TOOLBOX_CLICK__SECRET_KEY": SECRET}
#: Orders paid first in-process, one callback at a time, to measure one callback's SQL and CPU.
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


def make_scenario(orders: list[tuple[str, int]], latencies: list[float], first_trans: int = 700_000_000):
    from toolbox_click.protocol import tiyin_to_som

    queue = list(reversed(orders))

    async def pay(client: httpx.AsyncClient, n: int) -> None:
        number, total = queue.pop()
        amount = tiyin_to_som(total)
        trans = str(first_trans + n)

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


def in_process_cost(url: str, orders: list[tuple[str, int]], *, sql: bool = False) -> tuple[StatementCount, CostMeter]:
    """Pay ``orders`` one at a time in-process (``ClickShop.handle``, no HTTP), the first as a
    warm-up: (SQL statements and transactions, costs) of the others' Prepare + Complete, so the
    cost of one callback is known even on a busy machine. ``sql``: print the statements of the
    warm-up payment's Prepare and Complete."""
    from toolbox_click.protocol import tiyin_to_som
    from toolbox_click.shop import ClickShop

    toolbox = open_toolbox(url, plugins=["click"])
    shop = ClickShop(toolbox, toolbox.plugin_settings("click"))

    def pay(n: int, number: str, total: int, count: StatementCount | None = None) -> None:
        amount, trans = tiyin_to_som(total), str(600_000_000 + n)
        if count:
            count.step("prepare")
        prepared = shop.handle(signed(0, trans, number, amount), 0)
        if count:
            count.step("complete")
        done = shop.handle(signed(1, trans, number, amount, str(prepared["merchant_prepare_id"])), 1)
        if done["error"] != 0:
            raise RuntimeError(f"in-process Complete failed: {done}")

    with counting_statements(toolbox.db.engine, keep_sql=sql) as first:
        pay(0, *orders[0], first)
    for line in first.sql:
        print(f"  sql {line}")
    meter = CostMeter(database_url=url)
    with counting_statements(toolbox.db.engine) as counter, meter.measure():
        for n, (number, total) in enumerate(orders[1:], 1):
            pay(n, number, total)
    toolbox.close()
    return counter, meter


def wrk_payments(base_url: str, orders: list[tuple[str, int]], *, concurrency: int,
                 seconds: float) -> LoadResult:
    """Prepare + Complete driven by ``wrk`` (``lua/click.lua``, which signs each Complete with
    the ``merchant_prepare_id`` its Prepare answered); counts payments, latencies per callback."""
    from urllib.parse import urlencode

    from toolbox_click.protocol import tiyin_to_som

    rows = []
    for n, (number, total) in enumerate(orders):
        amount, trans = tiyin_to_som(total), str(700_000_000 + n)
        complete = signed(1, trans, number, amount)
        del complete["merchant_prepare_id"], complete["sign_string"]
        rows.append([urlencode(signed(0, trans, number, amount)), urlencode(complete),
                     trans + str(SERVICE_ID) + SECRET + number, amount + "1" + complete["sign_time"]])
    load, counters = wrk_lua(base_url, "click.lua", rows, [str(concurrency)], connections=concurrency,
                             seconds=seconds)
    return LoadResult(counters.get("payments", 0), load.seconds, counters.get("errors", 0) + load.errors,
                      load.p50_ms, load.p99_ms)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks click")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--in-process", type=int, default=IN_PROCESS,
                        help="payments made one at a time in-process first, to measure one callback's cost")
    parser.add_argument("--warm-up", type=int, default=None,
                        help="payments made over HTTP (by --concurrency clients) before the measured load, "
                             "so it excludes each worker's first-request costs as the in-process part does "
                             "(default: 2 per client; 0: none)")
    parser.add_argument("--driver", choices=("python", "wrk", "none"), default="python",
                        help="the HTTP load generator (none: only the in-process costs)")
    parser.add_argument("--sql", action="store_true",
                        help="print the statements of one in-process Prepare and Complete")
    parser.add_argument("--pin", action="store_true",
                        help="the load generator on CPU 0, the API server on CPU 1 (python or wrk driver)")
    opts = parser.parse_args(argv)
    machine()
    os.environ.update(CLICK_ENV)  # for the in-process seeding and audit kernels
    with fresh_database("postgres", plugins=["click"]) as url:
        started = time.perf_counter()
        warm_up = 0 if opts.driver == "none" else 2 * opts.concurrency if opts.warm_up is None else opts.warm_up
        orders = seed(url, opts.orders + opts.in_process + 1 + warm_up)
        figure("click_seeded_orders", len(orders), f"in {time.perf_counter() - started:.1f} s")
        measured, orders = orders[:opts.in_process + 1], orders[opts.in_process + 1:]
        warm, orders = orders[:warm_up], orders[warm_up:]
        if opts.in_process:
            counter, meter = in_process_cost(url, measured, sql=opts.sql)
            payments = len(measured) - 1
            figure("click_sql_per_payment", counter.statements / payments, "statements (Prepare + Complete)")
            figure("click_sql_per_callback", counter.statements / payments / 2, "statements")
            figure("click_transactions_per_payment", counter.transactions / payments,
                   "transactions (autocommit statements are in none)")
            figure("click_round_trips_per_payment", counter.round_trips / payments,
                   "round trips (statements + the BEGIN and COMMIT of each transaction)")
            meter.per(payments * 2, "click_callback_in_process")
        if opts.driver == "none":
            return
        latencies: list[float] = []
        env = {**CLICK_ENV, "TOOLBOX_REDIS_URL": flushed_redis()}
        cpus = pin_generator(opts)  # after seeding and the in-process run, which use every core
        with Server(url, workers=opts.workers, plugins=["click"], env=env, cpus=cpus,
                    startup_timeout=120) as server:  # a shared machine may be slow to start it
            # Warm every worker up with real payments (imports done on first use, statement caches,
            # pooled connections), as the in-process part pays one order before measuring.
            warmed = scenario_load(server.url, make_scenario(warm, [], first_trans=500_000_000),
                                   concurrency=opts.concurrency, seconds=120,
                                   max_iterations=len(warm)).requests if warm else 0
            load = CostMeter(database_url=url, pids=process_tree(server.process.pid))
            with load.measure():
                if opts.driver == "wrk":
                    result = wrk_payments(server.url, orders, concurrency=opts.concurrency, seconds=opts.seconds)
                else:
                    result = scenario_load(server.url, make_scenario(orders, latencies),
                                           concurrency=opts.concurrency, seconds=opts.seconds,
                                           max_iterations=len(orders))
        paid, captured = payment_audit(url, plugins=["click"])
        done_before = (opts.in_process + 1 if opts.in_process else 0) + warmed
        paid, captured = paid - done_before, captured - done_before
    figure("load_average_1m", os.getloadavg()[0], "(other processes share the cores)")
    figure("click_payments_per_s", result.rps, f"payments/s (under shared load, {opts.driver} driver)")
    if opts.driver == "wrk":  # wrk's percentiles are per callback already
        figure("click_callback_p50", result.p50_ms, "ms (wrk)")
        figure("click_callback_p99", result.p99_ms, "ms (wrk)")
    else:
        figure("click_payment_p99", result.p99_ms, "ms")
        figure("click_callback_p50", _pct(latencies, 50), "ms")
        figure("click_callback_p99", _pct(latencies, 99), "ms")
    load.per(result.requests * 2, "click_callback_http")
    figure("click_errors", result.errors, "")
    figure("click_paid_orders", paid, "")
    figure("click_captured_events", captured, "")
    if result.requests == len(orders):
        figure("click_note", "all seeded orders were paid before the time ran out: raise --orders")

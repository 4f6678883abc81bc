"""Payme Merchant API on PostgreSQL: full Check → Create → Perform cycles from concurrent clients.

    python -m benchmarks payme [--seconds 8] [--concurrency 16] [--workers 2] [--orders 4000]

Orders awaiting a Payme payment are placed first (in-process, through the checkout service);
then ``concurrency`` clients each take the next order and play Payme's three calls over HTTP
(JSON-RPC, Basic auth) against ``uvicorn`` with ``workers`` processes.

First ``--in-process`` cycles are played in-process, one at a time: exact statements per cycle
and per method, transactions and round trips per cycle (``--show-sql`` prints one cycle's
statements), CPU per callback. Then the load: ``payme_cycles_per_s`` (target ≥ 300), ``payme_callback_p50`` / ``payme_callback_p99``
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

MERCHANT_ID = "5e730e8e0b852a417aa49ceb"
TEST_KEY = "benchKEY-0123456789abcdefghijklmnopq"
PAYME_ENV = {"TOOLBOX_PAYME__MERCHANT_ID": MERCHANT_ID, "TOOLBOX_PAYME__KEY": "prod-" + TEST_KEY[5:],
             "TOOLBOX_PAYME__TEST_KEY": TEST_KEY, "TOOLBOX_PAYME__TEST_MODE": "true"}


#: Cycles played one at a time in-process (no HTTP) to measure one cycle's SQL and CPU.
IN_PROCESS = 100


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


AUTHORIZATION = "Basic " + base64.b64encode(f"Paycom:{TEST_KEY}".encode()).decode()


def cycle_calls(number: str, total: int, tx: str) -> list[tuple[str, dict]]:
    """Payme's three calls of one payment: CheckPerformTransaction, CreateTransaction, PerformTransaction."""
    return [("CheckPerformTransaction", {"amount": total, "account": {"order_id": number}}),
            ("CreateTransaction", {"id": tx, "time": time.time_ns() // 1_000_000, "amount": total,
                                   "account": {"order_id": number}}),
            ("PerformTransaction", {"id": tx})]


def in_process_cost(url: str, orders: list[tuple[str, int]], *,
                    show_sql: bool = False) -> tuple[StatementCount, CostMeter]:
    """Play ``orders``' cycles one at a time in-process through the endpoint's handler (Basic
    auth, dispatch, the JSON-RPC reply; no HTTP): (statements, transactions and round trips,
    per method too; costs) of all of them; ``show_sql`` prints the statements of the first cycle."""
    import json

    from toolbox_payme.plugin import merchant_for
    from toolbox_payme.routes import _answer

    toolbox = open_toolbox(url, plugins=["payme"])
    merchant = merchant_for(toolbox)
    meter = CostMeter(database_url=url)
    warm_number, warm_total = orders[0]
    for request_id, (method, params) in enumerate(cycle_calls(warm_number, warm_total, secrets.token_hex(12)), 1):
        _answer(merchant, AUTHORIZATION, {"method": method, "params": params, "id": request_id}, request_id)
    with counting_statements(toolbox.db.engine, keep_sql=show_sql) as counter, meter.measure():
        for number, total in orders[1:]:
            for request_id, (method, params) in enumerate(cycle_calls(number, total, secrets.token_hex(12)), 1):
                counter.step(method)
                reply = json.loads(_answer(merchant, AUTHORIZATION, {"method": method, "params": params,
                                                                     "id": request_id}, request_id).body)
                if "error" in reply:
                    raise RuntimeError(f"in-process {method} failed: {reply}")
            if show_sql:
                for line in counter.sql:
                    print("   ", line)
                show_sql = False
    toolbox.close()
    return counter, meter


def wrk_cycles(base_url: str, orders: list[tuple[str, int]], *, concurrency: int,
               seconds: float) -> tuple[LoadResult, list[float]]:
    """The cycles driven by ``wrk`` (``lua/payme.lua``): the result counts cycles, its latencies
    are per callback (wrk's own percentiles)."""
    now = time.time_ns() // 1_000_000
    rows = [[number, str(total), secrets.token_hex(12), str(now)] for number, total in orders]
    load, counters = wrk_lua(f"{base_url}/payme/callback", "payme.lua", rows,
                             [AUTHORIZATION, str(concurrency)], connections=concurrency, seconds=seconds)
    cycles = counters.get("cycles", 0)
    return LoadResult(cycles, load.seconds, counters.get("errors", 0) + load.errors, load.p50_ms,
                      load.p99_ms), [load.p50_ms, load.p99_ms]


def make_scenario(orders: list[tuple[str, int]], latencies: list[float]):
    auth = {"Authorization": AUTHORIZATION, "Content-Type": "text/json; charset=UTF-8"}

    async def cycle(client: httpx.AsyncClient, n: int) -> None:
        if n > len(orders):
            raise RuntimeError("out of orders: raise --orders")
        number, total = orders[n - 1]
        for request_id, (method, params) in enumerate(cycle_calls(number, total, secrets.token_hex(12)), 1):
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
    parser.add_argument("--in-process", type=int, default=IN_PROCESS,
                        help="cycles played one at a time in-process first, to measure one cycle's cost")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one in-process cycle")
    parser.add_argument("--driver", choices=("python", "wrk", "none"), default="python",
                        help="the HTTP load generator (none: only the in-process costs)")
    parser.add_argument("--pin", action="store_true",
                        help="the load generator on CPU 0, the API server on CPU 1 (python or wrk driver)")
    opts = parser.parse_args(argv)
    machine()
    os.environ.update(PAYME_ENV)  # the plugin's settings, for the in-process seeding and migrate
    with fresh_database("postgres", plugins=["payme"]) as url:
        started = time.perf_counter()
        orders = place_orders(url, opts.orders + opts.in_process + 1)
        figure("payme_orders_placed", len(orders), f"in {time.perf_counter() - started:.1f} s")
        measured, orders = orders[:opts.in_process + 1], orders[opts.in_process + 1:]
        if opts.in_process:
            counted, meter = in_process_cost(url, measured, show_sql=opts.show_sql)
            cycles = len(measured) - 1
            figure("payme_sql_per_cycle", counted.statements / cycles, "statements (Check + Create + Perform)")
            figure("payme_sql_per_callback", counted.statements / cycles / 3, "statements")
            for method, count in counted.by_step.items():
                figure(f"payme_sql_{method}", count / cycles, "statements")
            figure("payme_transactions_per_cycle", counted.transactions / cycles, "(BEGIN + COMMIT each)")
            figure("payme_round_trips_per_cycle", counted.round_trips / cycles,
                   "statements + BEGIN/COMMIT of each transaction")
            meter.per(cycles * 3, "payme_callback_in_process")
        if opts.driver == "none":
            return
        latencies: list[float] = []
        env = {**PAYME_ENV, "TOOLBOX_REDIS_URL": flushed_redis()}
        cpus = pin_generator(opts)  # after seeding and the in-process run, which use every core
        with Server(url, workers=opts.workers, plugins=["payme"], env=env, cpus=cpus,
                    startup_timeout=120) as server:  # a shared machine may be slow to start it
            number, total = orders[0]  # warm both workers up with read-only calls first
            for _ in range(4 * opts.workers):
                httpx.post(f"{server.url}/payme/callback", timeout=30, headers={"Authorization": AUTHORIZATION},
                           json={"method": "CheckPerformTransaction", "id": 1,
                                 "params": {"amount": total, "account": {"order_id": number}}})
            load = CostMeter(database_url=url, pids=process_tree(server.process.pid))
            with load.measure():
                if opts.driver == "wrk":
                    result, _ = wrk_cycles(server.url, orders, concurrency=opts.concurrency,
                                                   seconds=opts.seconds)
                else:
                    result = scenario_load(server.url, make_scenario(orders, latencies),
                                           concurrency=opts.concurrency, seconds=opts.seconds,
                                           max_iterations=len(orders))
        paid, captured = payment_audit(url)
    paid -= opts.in_process + 1 if opts.in_process else 0
    captured -= opts.in_process + 1 if opts.in_process else 0
    figure("load_average_1m", os.getloadavg()[0], "(other processes share the cores)")
    figure("payme_cycles_per_s", result.rps, f"cycles/s (under shared load, {opts.driver} driver)")
    if opts.driver == "wrk":  # wrk's percentiles are per callback already
        figure("payme_callback_p50", result.p50_ms, "ms (wrk)")
        figure("payme_callback_p99", result.p99_ms, "ms (wrk)")
    else:
        figure("payme_callback_p50", _pct(latencies, 50), "ms")
        figure("payme_callback_p99", _pct(latencies, 99), "ms")
        figure("payme_cycle_p99", result.p99_ms, "ms")
    load.per(result.requests * 3, "payme_callback_http")
    figure("payme_errors", result.errors, "")
    figure("payme_paid_orders", paid, "")
    figure("payme_captured_events", captured, f"(cycles completed: {result.requests})")

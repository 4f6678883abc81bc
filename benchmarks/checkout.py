"""Full checkout over HTTP on PostgreSQL: cart → 3 items → address → shipping → payment → complete.

    python -m benchmarks checkout [--seconds 8] [--concurrency 16] [--workers 2] [--stock 100000]
                                  [--driver python|wrk|both] [--pin] [--sql]

Prints ``checkout_orders_per_s``, ``checkout_p50``/``checkout_p99`` (whole checkout, 8 requests),
``checkout_errors``, and the end-of-run audit: ``checkout_oversold`` (units sold beyond stock or
reserved counts that disagree with live reservations) and ``checkout_lost_events`` (orders
without their ``order.placed`` outbox row). Targets: ≥150 orders/s, p99 < 250 ms, 0 and 0.

The load comes from the Python (httpx) client (``--driver python``, the default) or from ``wrk``
with a Lua script of the same 8 steps (``--driver wrk``; ``both`` runs one after the other, each
on a fresh database). ``--pin`` pins the load generator to core 0 and the server to core 1, so
the client's own CPU does not steal from the server's. Every run also prints the work per
order, which (unlike throughput on a shared machine) is robust: ``*_api_cpu_ms_per_order`` (the
uvicorn processes, ``/proc/<pid>/stat``), ``*_pg_cpu_ms_per_order`` (this database's PostgreSQL
backends) and ``*_pg_xacts_per_order`` (``pg_stat_database``). ``--sql`` (or ``--seconds 0``
with it) first places one order in-process and prints ``checkout_sql_statements`` (a
SQLAlchemy ``before_cursor_execute`` count) and ``checkout_sql_transactions``, per step too,
``checkout_sql_real_transactions`` (BEGIN ... COMMIT PostgreSQL saw: statements on an autocommit
connection count in ``checkout_sql_transactions`` but send neither), ``checkout_sql_round_trips``
(statements + 2 per real transaction), and
``checkout_inprocess_cpu_ms_per_order`` (20 sequential checkouts through a TestClient).
``TOOLBOX_BENCH_PYSPY=<folder>`` records the served API workers during the measured load
(summarise with ``python -m benchmarks profile``).

The server runs with Redis (``TOOLBOX_BENCH_CHECKOUT_REDIS_URL``, default: the harness's claimed database, flushed first),
as in production; see :func:`fresh_redis`.
"""

from __future__ import annotations

import argparse
import os
import time

import httpx

from benchmarks.harness import (
    ADDRESS,
    REDIS_URL,
    LoadResult,
    Server,
    Step,
    counting_statements,
    figure,
    flushed_redis,
    fresh_database,
    machine,
    open_toolbox,
    pg_transactions,
    pin,
    postgres_backends,
    process_cpu_seconds,
    process_tree,
    recording,
    scenario_load,
    worker_pids,
    wrk_flow,
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


def steps(variants: list[str]) -> list[Step]:
    """The 8 requests of one checkout; ``{id}`` is the cart id the first one returns."""
    return [
        Step("POST", "/store/carts", {"locale": "ru"}),
        *(Step("POST", "/store/carts/{id}/lines", {"variant_id": v, "quantity": 1}) for v in variants),
        Step("PATCH", "/store/carts/{id}", {"phone": "+998901234567", "address": ADDRESS}),
        Step("POST", "/store/carts/{id}/shipping", {"provider_id": "flat", "option_id": "flat"}),
        Step("POST", "/store/carts/{id}/payment-session", {"provider_id": "cash_on_delivery"}),
        Step("POST", "/store/carts/{id}/complete"),
    ]


def make_scenario(variants: list[str]):
    flow = steps(variants)

    async def checkout(client: httpx.AsyncClient, n: int) -> None:
        cart = ""
        for step in flow:
            path = step.path.replace("{id}", cart)
            response = await client.request(step.method, path, json=step.json)
            if response.status_code >= 400:
                raise RuntimeError(f"{step.method} {path}: {response.status_code} {response.text[:200]}")
            cart = cart or response.json()["id"]

    return checkout


def count_sql(url: str, variants: list[str], *, show: bool = False) -> None:
    """Place one order in-process over the app (with Redis, as served) and print its SQL work.

    The first checkout warms caches (statement cache, plugin start-up); the second is counted.
    """
    from fastapi.testclient import TestClient

    from toolbox_core.app import create_app

    toolbox = open_toolbox(url, redis_url=fresh_redis())

    labels = ["create", *(f"add_line{n}" for n in range(len(variants))), "update", "shipping", "payment",
              "complete"]
    with TestClient(create_app(toolbox=toolbox)) as client:
        for counted in (False, True):
            with counting_statements(toolbox.db.engine, keep_sql=show) as count:
                cart = ""
                for label, step in zip(labels, steps(variants), strict=True):
                    count.step(label)
                    response = client.request(step.method, step.path.replace("{id}", cart), json=step.json)
                    response.raise_for_status()
                    cart = cart or response.json()["id"]
            if counted:
                figure("checkout_sql_statements", count.statements, "per order")
                figure("checkout_sql_transactions", count.commits + count.rollbacks, "per order (SQLAlchemy commits)")
                # A real transaction adds BEGIN and COMMIT round trips; a rolled-back one BEGIN and ROLLBACK.
                figure("checkout_sql_real_transactions", count.transactions, "per order (BEGIN ... COMMIT)")
                figure("checkout_sql_round_trips", count.round_trips, "per order")
                for label, n in count.by_step.items():
                    figure(f"checkout_sql_{label}", n, "")
                for line in count.sql:
                    print("   ", line)
        # CPU of this process (app and TestClient) per sequential checkout: no load generator
        # competing, nothing in flight; compare runs of the same machine.
        flow, rounds = steps(variants), 20
        started = time.process_time()
        for _ in range(rounds):
            cart = ""
            for step in flow:
                response = client.request(step.method, step.path.replace("{id}", cart), json=step.json)
                response.raise_for_status()
                cart = cart or response.json()["id"]
        figure("checkout_inprocess_cpu_ms_per_order", (time.process_time() - started) * 1000 / rounds, "ms")
    toolbox.close()


def drive(driver: str, url: str, variants: list[str], opts: argparse.Namespace) -> LoadResult:
    """One load run against a fresh server on ``url``; prints the work-per-order figures."""
    with Server(url, workers=opts.workers, env={"TOOLBOX_REDIS_URL": fresh_redis()},
                startup_timeout=120) as server:
        # Warm every worker up (first-use compilation and caches are not per-order work).
        scenario_load(server.url, make_scenario(variants), concurrency=2 * opts.workers, seconds=20,
                      max_iterations=6 * opts.workers)
        api = process_tree(server.process.pid)
        if opts.pin:
            pin(api, {1})
            pin([os.getpid()], {0})
        on_pg = url.startswith("postgresql")
        backends = postgres_backends(url) if on_pg else []
        api_cpu, pg_cpu, xacts = process_cpu_seconds(api), process_cpu_seconds(backends), \
            pg_transactions(url) if on_pg else 0
        with recording(worker_pids(server.process.pid) or [server.process.pid], f"checkout-{driver}"):
            if driver == "wrk":
                result = wrk_flow(server.url, steps(variants), connections=opts.concurrency,
                                  seconds=max(1, round(opts.seconds)))
            else:
                result = scenario_load(server.url, make_scenario(variants), concurrency=opts.concurrency,
                                       seconds=opts.seconds)
        api_cpu = process_cpu_seconds(api) - api_cpu
        if on_pg:  # backends opened during the run started at 0
            pg_cpu = process_cpu_seconds(sorted(set(backends) | set(postgres_backends(url)))) - pg_cpu
            xacts = pg_transactions(url) - xacts
    if opts.pin:
        pin([os.getpid()], set(range(os.cpu_count() or 1)))
    orders = max(result.requests, 1)
    figure(f"{driver}_api_cpu_ms_per_order", api_cpu * 1000 / orders, "ms")
    if on_pg:
        figure(f"{driver}_pg_cpu_ms_per_order", pg_cpu * 1000 / orders, "ms")
        figure(f"{driver}_pg_xacts_per_order", xacts / orders, "")
    return result


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
    parser.add_argument("--driver", choices=["python", "wrk", "both"], default="python")
    parser.add_argument("--pin", action="store_true", help="load generator on core 0, server on core 1")
    parser.add_argument("--sql", action="store_true", help="count the SQL of one in-process checkout first")
    parser.add_argument("--show-sql", action="store_true", help="with --sql: print every statement")
    opts = parser.parse_args(argv)
    machine()
    if opts.sql or opts.show_sql:
        with fresh_database(opts.database) as url:
            count_sql(url, seed(url, opts.stock), show=opts.show_sql)
    if opts.seconds <= 0:
        return
    for driver in (["python", "wrk"] if opts.driver == "both" else [opts.driver]):
        with fresh_database(opts.database) as url:
            variants = seed(url, opts.stock)
            result = drive(driver, url, variants, opts)
            orders, oversold, lost = audit(url, opts.stock)
        prefix = "checkout" if driver == "python" else f"checkout_{driver}"
        figure(f"{prefix}_orders_per_s", result.rps, "orders/s")
        figure(f"{prefix}_p50", result.p50_ms, "ms")
        figure(f"{prefix}_p99", result.p99_ms, "ms")
        figure(f"{prefix}_errors", result.errors, "")
        figure(f"{prefix}_orders", orders, "")
        figure(f"{prefix}_oversold", oversold, "units")
        figure(f"{prefix}_lost_events", lost, "")

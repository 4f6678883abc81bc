"""MoySklad stock sync figures on PostgreSQL with 100,000 SKUs served by the fake over loopback.

The fake MoySklad (``tests/fakes/moysklad.py``, gzip, paging, the documented rate limits)
runs in this process; every sync runs in a child process (``Toolbox.create()`` from the
environment, as ``toolbox moysklad sync`` does), which reports its own time and peak memory.

* full sync, the fake's rate limit off (target < 20 s), rows/s, peak RSS of the sync (< 300 MB);
* incremental sync with 1,000 changes (target < 2 s);
* full sync with MoySklad's limits on (45 units / 3 s, a stock page weighs 5), against the least
  time those limits allow for the same pages;
* the kernel's batched apply (changed-only, catalog-checked, event per batch) against a plain
  ``UPDATE ... FROM (VALUES ...)`` of the same rows in the same batches.

    python -m benchmarks moysklad [--skus 100000] [--skip-limited]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.harness import REDIS_URL, figure, fresh_database, machine


def _env(url: str, api: str, *, limited: bool = True) -> dict[str, str]:
    env = {**os.environ, "TOOLBOX_DATABASE_URL": url, "TOOLBOX_PLUGINS": "moysklad",
           "TOOLBOX_REDIS_URL": REDIS_URL, "TOOLBOX_MOYSKLAD__TOKEN": "tok-initial",
           "TOOLBOX_MOYSKLAD__BASE_URL": api, "TOOLBOX_LOG_LEVEL": "WARNING"}
    if not limited:  # "rate limit off": the client's own budget lifted as well as the fake's
        env |= {"TOOLBOX_MOYSKLAD__RATE_BUDGET": "1000", "TOOLBOX_MOYSKLAD__HEAVY_WEIGHT": "1",
                "TOOLBOX_MOYSKLAD__REQUEST_WEIGHT": "1"}
    return env


def seed_catalog(url: str, count: int) -> list[str]:
    """``count`` published variants (SKU = the fake's codes) with stock 1, by COPY."""
    import psycopg

    skus = [f"C{n:06d}" for n in range(count)]
    now = datetime.now(UTC)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
        location = "sloc_bench_default"
        cur.execute("INSERT INTO stock_locations (id, code, name, created_at, updated_at) "
                    "VALUES (%s, 'default', 'default', %s, %s)", (location, now, now))
        with cur.copy("COPY products (id, handle, status, metadata, created_at, updated_at) FROM STDIN") as copy:
            for sku in skus:
                copy.write_row((f"prod_{sku}", f"p-{sku.lower()}", "published", "{}", now, now))
        with cur.copy("COPY product_variants (id, product_id, sku, price, weight_grams, position, metadata, "
                      "created_at, updated_at) FROM STDIN") as copy:
            for sku in skus:
                copy.write_row((f"var_{sku}", f"prod_{sku}", sku, 100_000, 0, 0, "{}", now, now))
        with cur.copy("COPY inventory_levels (sku, location_id, stocked, reserved, created_at, updated_at) "
                      "FROM STDIN") as copy:
            for sku in skus:
                copy.write_row((sku, location, 1, 0, now, now))
        cur.execute("ANALYZE")
    return skus


def child_sync(kind: str) -> None:
    """In the child: one sync from the environment's settings; prints a JSON line."""
    from toolbox_moysklad.sync import MoySkladSync

    from toolbox_core.api import Toolbox

    toolbox = Toolbox.create()
    started = time.perf_counter()
    runner = MoySkladSync(toolbox)
    report = runner.run(full=True if kind == "full" else None)
    seconds = time.perf_counter() - started
    runner.close()
    toolbox.close()
    print(json.dumps({"seconds": seconds, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "report": report}, default=str))


def run_child(url: str, api: str, kind: str, *, limited: bool = False) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks", "moysklad", "--child", kind],
                         env=_env(url, api, limited=limited), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"sync child failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_apply(url: str, skus: list[str]) -> tuple[float, float]:
    """Rows/s of the kernel's ``apply_stock_batch`` and of a plain bulk UPDATE, same rows and batches."""
    from toolbox_core.api import StockLevel, Toolbox, apply_stock_batch
    from toolbox_core.config import Settings

    toolbox = Toolbox.create(Settings(database_url=url, plugins=[]))
    batches = [skus[i:i + 1000] for i in range(0, len(skus), 1000)]
    started = time.perf_counter()
    for batch in batches:
        with toolbox.db.transaction() as session:
            apply_stock_batch(session, [StockLevel(sku, 777) for sku in batch], source="bench", sales_lag_seconds=0)
    kernel = len(skus) / (time.perf_counter() - started)
    started = time.perf_counter()
    for batch in batches:
        values = ", ".join(["(%s, %s::integer)"] * len(batch))
        params = tuple(x for sku in batch for x in (sku, 888))
        with toolbox.db.transaction() as session:
            session.connection().exec_driver_sql(
                f"UPDATE inventory_levels AS l SET stocked = v.q FROM (VALUES {values}) AS v(s, q) "
                f"WHERE l.sku = v.s", params)
    plain = len(skus) / (time.perf_counter() - started)
    toolbox.close()
    return kernel, plain


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks moysklad")
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--skip-limited", action="store_true", help="skip the run with rate limits on")
    parser.add_argument("--child", choices=["full", "incremental"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_sync(args.child)
        return

    sys.path.insert(0, os.getcwd())
    from tests.fakes.moysklad import API_PREFIX, FakeMoySklad
    from toolbox_core.testing import ServedApp

    machine()
    fake = FakeMoySklad(rate_limited=False)
    products = fake.add_products(args.skus)
    for n, p in enumerate(products):
        p.stock = float(n % 50 + 2)
    with fresh_database("postgres", plugins=[]) as url, ServedApp(fake) as served:
        api = served.url + API_PREFIX
        os.environ.update({"TOOLBOX_MOYSKLAD__TOKEN": "tok-initial", "TOOLBOX_MOYSKLAD__BASE_URL": api})
        from benchmarks.harness import _migrate

        _migrate(url, ["moysklad"])
        skus = seed_catalog(url, args.skus)
        figure("skus", args.skus)

        full = run_child(url, api, "full")
        r = full["report"]
        figure("full sync, rate limit off", full["seconds"], "s (target < 20)")
        figure("full sync rows/s", args.skus / full["seconds"], "rows/s")
        figure("full sync requests", r["requests"])
        figure("full sync changed / unchanged", f"{r['changed']} / {r['unchanged']}")
        figure("peak memory of the sync process", full["maxrss_kb"] / 1024, "MB (target < 300)")

        now = datetime.now(UTC)
        for p in products[: args.changes]:
            p.stock += 3
            p.changed_at = now
        inc = run_child(url, api, "incremental")
        figure(f"incremental sync, {args.changes} changes", inc["seconds"], "s (target < 2)")
        figure("incremental changed", inc["report"]["changed"])

        kernel, plain = compare_apply(url, skus)
        figure("kernel batched apply", kernel, "rows/s")
        figure("plain bulk UPDATE ... FROM (VALUES ...)", plain, "rows/s")
        figure("kernel apply / plain UPDATE", kernel / plain, "x")

        if not args.skip_limited:
            fake.rate_limited = True
            for p in products:
                p.stock += 1
            limited = run_child(url, api, "full", limited=True)
            pages = math.ceil(args.skus / 1000)
            per_window = 45 // 5
            least = (math.ceil(pages / per_window) - 1) * 3.0
            figure("full sync, MoySklad limits on", limited["seconds"], "s")
            figure("least time the limits allow (fetch only)", least, "s")
            figure("limited run / least time", limited["seconds"] / least, "x (target <= 1.10)")
            figure("429 answers received", len(fake.rejected_429))

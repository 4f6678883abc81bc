"""Catalog figures: store list, product detail and database search under load.

    python -m benchmarks catalog [--db postgres|sqlite|both] [--products 10000] [--seconds 5]

Seeds ``--products`` published products × 3 variants (RU + UZ texts, categories, stock) with
bulk inserts (then ANALYZE on PostgreSQL, as autovacuum would in production), starts uvicorn with
2 workers in the production shape (Redis set: no in-process job workers, relay or scheduler), and
drives 32 concurrent connections with wrk (throughput and latency are noise on a shared machine;
each load also prints API and PostgreSQL CPU per request, connections opened, and worker RSS idle
and at peak — targets ≤ 120 MB idle, ≤ 250 MB peak):

* ``<db>_list``: ``GET /store/products?limit=20`` (target ≥ 2,000 req/s, p99 < 60 ms on PG)
* ``<db>_detail``: ``GET /store/products/{handle}`` over many handles (target ≥ 3,000 req/s, p99 < 60 ms)
* ``<db>_search``: ``GET /store/products?q=...`` rotating typo'd RU/UZ queries (p99 < 100 ms)
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.harness import (
    REDIS_URL,
    Costs,
    Server,
    figure,
    fresh_database,
    lua_rotation,
    machine,
    open_toolbox,
    wrk,
)

NOUNS = [
    ("Дрель-шуруповёрт", "Drel-shurupovyort"), ("Болгарка", "Bolgarka"), ("Перфоратор", "Perforator"),
    ("Циркулярная пила", "Doiraviy arra"), ("Молоток", "Bolg‘a"), ("Отвёртка", "Otvyortka"),
    ("Рулетка", "O‘lchov lentasi"), ("Ключ разводной", "Sozlanadigan kalit"), ("Лобзик", "Lobzik"),
    ("Шлифмашина", "Silliqlash mashinasi"), ("Уровень", "Daraja"), ("Набор свёрл", "Parmalar to‘plami"),
]
QUERIES = ["drel", "болгарка", "bolgarke", "перфоратр", "silliqlash", "ўлчов", "otvertka", "lobzik"]


def seed(database_url: str, products: int) -> float:
    """Bulk-insert the catalog and build its read model; returns seconds taken."""
    from sqlalchemy import insert

    from toolbox_core.catalog import models as m
    from toolbox_core.catalog.search.ddl import rebuild_sqlite_index
    from toolbox_core.catalog.service import Catalog
    from toolbox_core.inventory.models import InventoryLevel, StockLocation

    started = time.perf_counter()
    toolbox = open_toolbox(database_url)
    rng = random.Random(7)
    now = datetime.now(UTC)
    with toolbox.db.transaction() as s:
        s.execute(insert(StockLocation), [{"id": "sloc_default", "code": "default", "name": "Main", "created_at": now, "updated_at": now}])
        cats = [{"id": f"cat_{i}", "handle": f"cat-{i}", "parent_id": None if i < 4 else f"cat_{i % 4}", "position": i,
                 "metadata": {}, "created_at": now, "updated_at": now} for i in range(16)]
        s.execute(insert(m.Category), cats)
        s.execute(insert(m.CategoryTranslation), [{"category_id": c["id"], "locale": loc, "name": f"{c['handle']} {loc}", "description": ""}
                                                  for c in cats for loc in ("ru", "uz")])
    catalog = Catalog(toolbox)
    batch = 1000
    for start in range(0, products, batch):
        rows, texts, variants, vtexts, links, levels = [], [], [], [], [], []
        for i in range(start, min(start + batch, products)):
            pid = f"prod_{i:06d}"
            ru, uz = NOUNS[i % len(NOUNS)]
            created = now - timedelta(seconds=products - i)
            rows.append({"id": pid, "handle": f"product-{i}", "status": "published", "metadata": {}, "created_at": created, "updated_at": created})
            texts += [{"product_id": pid, "locale": "ru", "title": f"{ru} Toolbox TB-{i}", "description": "Надёжный инструмент"},
                      {"product_id": pid, "locale": "uz", "title": f"{uz} Toolbox TB-{i}", "description": "Ishonchli asbob"}]
            links.append({"product_id": pid, "category_id": f"cat_{i % 16}"})
            for j in range(3):
                vid = f"var_{i:06d}_{j}"
                sku = f"TB-{i}-{j}"
                variants.append({"id": vid, "product_id": pid, "sku": sku, "barcode": None, "price": rng.randrange(10_000, 3_000_000) * 100,
                                 "compare_at_price": None, "weight_grams": 1000, "position": j, "mxik_code": "08467001001000000",
                                 "package_code": "1500", "vat_percent": 12, "metadata": {}, "created_at": created, "updated_at": created})
                vtexts += [{"variant_id": vid, "locale": "ru", "title": f"Вариант {j + 1}"}, {"variant_id": vid, "locale": "uz", "title": f"Variant {j + 1}"}]
                levels.append({"sku": sku, "location_id": "sloc_default", "stocked": rng.randrange(0, 20), "reserved": 0, "created_at": now, "updated_at": now})
        with toolbox.db.transaction() as s:
            for model, data in ((m.Product, rows), (m.ProductTranslation, texts), (m.ProductVariant, variants),
                                (m.VariantTranslation, vtexts), (m.ProductCategory, links), (InventoryLevel, levels)):
                s.execute(insert(model), data)
            catalog.refresh(s, [r["id"] for r in rows])
    rebuild_sqlite_index(toolbox.db.engine)
    if not toolbox.db.is_sqlite:
        # Production autovacuum analyzes a bulk load; without statistics (autovacuum is off on
        # the test server) the planner reads 100 search results through the (locale, published)
        # index, scanning every product: ~9 ms per statement instead of ~0.15 ms.
        from sqlalchemy import text

        with toolbox.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    toolbox.close()
    return time.perf_counter() - started


def run(kind: str, products: int, seconds: int) -> None:
    from urllib.parse import quote

    with fresh_database(kind) as url:
        figure(f"{kind}_seed_seconds", seed(url, products), "s")
        # Redis set, as in production: jobs run in `toolbox worker`, not in the API processes
        # (embedded mode adds ~9 threads per API worker that wake every 20-200 ms).
        env = {"TOOLBOX_STORAGE__LOCAL_PATH": tempfile.mkdtemp(), "TOOLBOX_REDIS_URL": REDIS_URL}
        with Server(url, workers=2, env=env, startup_timeout=120) as server:
            base = server.url
            costs = Costs(server, pg=kind == "postgres")
            for i, rss in enumerate(costs.idle_rss()):
                figure(f"{kind}_worker{i}_idle_rss", rss, "MB")
            wrk(f"{base}/store/products?limit=20", connections=8, seconds=1)  # warm up both workers
            costs.measure(f"{kind}_list", lambda: wrk(f"{base}/store/products?limit=20", connections=32, seconds=seconds))
            rng = random.Random(1)
            detail = lua_rotation([f"/store/products/product-{rng.randrange(products)}" for _ in range(500)])
            # Each worker reads each of the 500 products once before its page is cached: warm
            # both (as a running shop is), so the figures are of the steady state.
            wrk(f"{base}/store/products/product-1", connections=32, seconds=2, script=detail)
            costs.measure(f"{kind}_detail", lambda: wrk(f"{base}/store/products/product-1", connections=32, seconds=seconds, script=detail))
            search = lua_rotation([f"/store/products?q={quote(q)}&limit=20" for q in QUERIES])
            wrk(f"{base}/store/products?q=drel", connections=8, seconds=1, script=search)
            costs.measure(f"{kind}_search", lambda: wrk(f"{base}/store/products?q=drel", connections=32, seconds=seconds, script=search))

def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks catalog")
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5)
    args: Any = parser.parse_args(argv)
    machine()
    figure("products", args.products)
    figure("variants", args.products * 3)
    for kind in (["postgres", "sqlite"] if args.db == "both" else [args.db]):
        run(kind, args.products, args.seconds)

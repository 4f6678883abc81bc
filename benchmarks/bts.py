"""BTS delivery figures, on PostgreSQL + Redis with 2 API workers, BTS faked on loopback.

    python -m benchmarks bts [--seconds 5] [--concurrency 2] [--load-concurrency 16] [--carts 300]

Prints ``bts_shipping_method_p50``/``_p99`` — ``POST /store/bts/shipping-method`` with a warm
calculator cache, one request in flight per API worker (target p99 < 25 ms) — then the same
under saturating load (``bts_shipping_method_loaded_*``: throughput, queueing included), and ``bts_regions_rps``, ``bts_cities_rps``,
``bts_branches_rps`` for the directory endpoints (target ≥ 2,000 req/s each), with wrk.
"""

from __future__ import annotations

import argparse
import os

import httpx

from benchmarks.harness import (
    REDIS_URL,
    Server,
    figure,
    flushed_redis,
    fresh_database,
    lua_rotation,
    machine,
    open_toolbox,
    report,
    scenario_load,
    wrk,
)

ADDRESS = {"region": "Andijon", "city": "Andijon", "street": "Navoiy 10", "region_code": "60", "city_code": "6000"}


def bts_env(fake_url: str) -> dict[str, str]:
    return {"TOOLBOX_BTS__BASE_URL": fake_url, "TOOLBOX_BTS__LOGIN": "shop", "TOOLBOX_BTS__PASSWORD": "s3cret",
            "TOOLBOX_BTS__SENDER_CITY_CODE": "1000", "TOOLBOX_BTS__WEBHOOK_SECRET": "bench-secret"}


def seed(url: str) -> list[str]:
    """Directory synced from the fake; three variants with weights; returns their ids."""
    from toolbox_bts import directory
    from toolbox_core.testing import add_variant

    toolbox = open_toolbox(url, plugins=["bts"], redis_url=REDIS_URL)
    directory.sync(toolbox, toolbox.shipping_providers["bts"].client)
    ids = [add_variant(toolbox, sku=f"BTS-{n}", weight_grams=400 * (n + 1), stock=1_000_000) for n in range(3)]
    toolbox.close()
    return ids


def make_carts(base: str, variants: list[str], count: int) -> list[str]:
    carts = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for n in range(count):
            cart = client.post("/store/carts", json={"locale": "ru", "phone": "+998901234567"}).json()["id"]
            client.post(f"/store/carts/{cart}/lines", json={"variant_id": variants[n % 3], "quantity": 1 + n % 3})
            client.patch(f"/store/carts/{cart}", json={"address": ADDRESS})
            carts.append(cart)
        for cart in carts[:12]:  # warm the calculator cache for every route and bracket used
            for body in ({"option": "branch_to_door"}, {"option": "branch_to_branch", "branch_code": "601"}):
                client.post("/store/bts/shipping-method", json={"cart_id": cart, **body}).raise_for_status()
    return carts


def shipping_scenario(carts: list[str]):
    async def choose(client: httpx.AsyncClient, n: int) -> None:
        body = {"option": "branch_to_door"} if n % 2 else {"option": "branch_to_branch", "branch_code": "601"}
        response = await client.post("/store/bts/shipping-method", json={"cart_id": carts[n % len(carts)], **body})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.text[:200]}")

    return choose


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks bts")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--load-concurrency", type=int, default=16)
    parser.add_argument("--carts", type=int, default=300)
    opts = parser.parse_args(argv)
    from tests.fakes.bts import create_fake_bts
    from toolbox_core.testing import serve_asgi

    machine()
    flushed_redis()
    app, state = create_fake_bts()
    with serve_asgi(app) as fake_url:
        state.base_url = fake_url
        os.environ.update(bts_env(fake_url))  # the seeding kernel reads the plugin's settings from here
        with fresh_database("postgres", plugins=["bts"]) as url:
            variants = seed(url)
            env = {"TOOLBOX_REDIS_URL": REDIS_URL, **bts_env(fake_url)}
            with Server(url, workers=2, plugins=["bts"], env=env) as server:
                carts = make_carts(server.url, variants, opts.carts)
                calls_before = state.calls["/v1/order-calculate/index"]
                result = scenario_load(server.url, shipping_scenario(carts), concurrency=opts.concurrency,
                                       seconds=opts.seconds)
                figure("bts_calculator_calls_during_load", state.calls["/v1/order-calculate/index"] - calls_before)
                report("bts_shipping_method", result)
                report("bts_shipping_method_loaded", scenario_load(
                    server.url, shipping_scenario(carts), concurrency=opts.load_concurrency, seconds=opts.seconds))
                base = server.url
                wrk(f"{base}/store/bts/regions", connections=8, seconds=1)  # warm both workers
                report("bts_regions", wrk(f"{base}/store/bts/regions?locale=ru", connections=32,
                                          seconds=opts.seconds))
                cities = lua_rotation([f"/store/bts/regions/{c}/cities?locale={loc}"
                                       for c in ("10", "60", "70") for loc in ("ru", "uz")])
                report("bts_cities", wrk(f"{base}/store/bts/regions/60/cities", connections=32,
                                         seconds=opts.seconds, script=cities))
                branches = lua_rotation([f"/store/bts/branches?city={c}&locale={loc}"
                                         for c in ("1000", "6000", "7000") for loc in ("ru", "uz")])
                report("bts_branches", wrk(f"{base}/store/bts/branches?city=6000", connections=32,
                                           seconds=opts.seconds, script=branches))

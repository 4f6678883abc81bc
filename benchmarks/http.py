"""The HTTP pipeline's own cost: what every request pays before and after its route code.

    python -m benchmarks http [--seconds 5] [--workers 1] [--in-process 3000]

Three requests whose route does (almost) nothing, so what is measured is uvicorn, the ASGI
middleware and FastAPI's routing, dependency solving and (for sync routes) the thread hop:

* ``health``: ``GET /health`` (async route, no database);
* ``detail_404``: ``GET /store/products/no-such-product`` (sync route: thread hop, locale
  dependency, one indexed read, a 404 in the one error shape);
* ``unknown_404``: ``GET /store/no-such-path`` (no route: every router is tried, then the 404).

First in-process (the app called as an ASGI callable, no network, sequentially): CPU per
request, ``http_<name>_in_process_cpu_ms`` (the best of 3 batches), and
``http_<name>_loop_calls``, the Python calls one request makes on the event loop's thread
(middleware, routing, dependencies: deterministic, whatever the machine's load).
Then served (uvicorn, ``--workers`` processes, Redis set as in production, PostgreSQL) under
wrk with 32 connections: ``http_<name>_api_cpu_per_request`` (and throughput/latency, which
are noise on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from typing import Any

from benchmarks.harness import (
    REDIS_URL,
    Costs,
    Server,
    figure,
    fresh_database,
    machine,
    open_toolbox,
    wrk,
)

PATHS = {
    "health": "/health",
    "detail_404": "/store/products/no-such-product",
    "unknown_404": "/store/no-such-path",
}
#: The status each path must answer (a wrong one would measure something else).
EXPECTED = {"health": 200, "detail_404": 404, "unknown_404": 404}


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*"), (b"accept-language", b"ru")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}


async def _request(app: Any, path: str) -> int:
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(_scope(path), receive, send)
    return status[0]


async def _calls(app: Any, path: str) -> int:
    """Python function calls one request makes on the event loop's thread: the middleware,
    routing and dependency solving (not the sync route's thread). Deterministic, unlike time."""
    calls = 0

    def count(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        await _request(app, path)
    finally:
        sys.setprofile(None)
    return calls


def in_process(database_url: str, count: int) -> None:
    """CPU per request of the app called directly (best of 3 batches of ``count``)."""
    from toolbox_core.app import create_app

    toolbox = open_toolbox(database_url, public_base_url="http://127.0.0.1:8000")
    app = create_app(toolbox=toolbox)

    async def measure() -> None:
        for name, path in PATHS.items():
            for _ in range(50):  # warm up: pools, caches, compiled validators
                status = await _request(app, path)
            if status != EXPECTED[name]:
                raise RuntimeError(f"{path} answered {status}, expected {EXPECTED[name]}")
            best = float("inf")
            for _ in range(3):
                started = time.process_time()
                for _ in range(count):
                    await _request(app, path)
                best = min(best, (time.process_time() - started) * 1000 / count)
            figure(f"http_{name}_in_process_cpu_ms", best, "ms")
            figure(f"http_{name}_loop_calls", await _calls(app, path), "Python calls (event-loop thread)")

    asyncio.run(measure())
    toolbox.close()


def served(database_url: str, workers: int, seconds: int) -> None:
    env = {"TOOLBOX_STORAGE__LOCAL_PATH": tempfile.mkdtemp(), "TOOLBOX_REDIS_URL": REDIS_URL}
    with Server(database_url, workers=workers, env=env, startup_timeout=120) as server:
        costs = Costs(server, pg=False)
        for name, path in PATHS.items():
            url = f"{server.url}{path}"
            wrk(url, connections=8, seconds=1)  # warm up every worker
            costs.measure(f"http_{name}", lambda url=url: wrk(url, connections=32, seconds=seconds))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks http")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--in-process", type=int, default=3000, help="requests per in-process batch; 0: skip")
    args: Any = parser.parse_args(argv)
    machine()
    with fresh_database("postgres") as url:
        if args.in_process:
            in_process(url, args.in_process)
        if args.seconds:
            served(url, args.workers, args.seconds)

"""Events figures: outbox → subscriber throughput and commit-to-handler latency on Redis.

    python -m benchmarks events [--events 10000] [--latency-events 200] [--rate 50]

One ``toolbox worker``-style process (``--threads`` threads, default 8, relay included) on PostgreSQL and the Redis
broker. Throughput: ``--events`` rows already in the outbox when the worker starts, divided by
the time from worker start to the last handler call. Latency: single-event transactions
committed ``--rate`` times a second while the worker is idle; the median and p95 of handler
time minus commit time. Targets: ≥ 2,000 events/s, median < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    BENCH_SECRET_KEY,
    REDIS_URL,
    figure,
    fresh_database,
    machine,
    open_toolbox,
)
from toolbox_core.plugins import hookimpl


class _BenchSubscriber:
    """A plugin whose one subscriber notes when each event reached it."""

    def __init__(self, seen: list[tuple[str, float]]) -> None:
        self.seen = seen

    @hookimpl
    def event_subscribers(self, toolbox: Any) -> list[Any]:
        from toolbox_core.events.types import Subscriber

        return [Subscriber("bench.record", ("order.placed",), lambda event, _tb: self.seen.append((event.id, time.time())))]


def _worker(database_url: str, namespace: str, out: str, threads: str) -> None:
    from toolbox_core.jobs.worker import serve_worker

    toolbox = open_toolbox(database_url, redis_url=REDIS_URL, jobs={"redis_namespace": namespace})
    seen: list[tuple[str, float]] = []
    toolbox.plugins.pm.register(_BenchSubscriber(seen), name="bench")
    started = time.time()
    serve_worker(toolbox, threads=int(threads), scheduler=False)
    Path(out).write_text(json.dumps({"started": started, "seen": seen}))


def _emit(toolbox: Any, count: int) -> list[str]:
    from toolbox_core.events import emit

    with toolbox.db.transaction() as session:
        return [emit(session, "order.placed", {"order_id": f"ord_{n}", "amount": 1_500_000}) for n in range(count)]


def _wait_done(toolbox: Any, worker: subprocess.Popen[bytes], expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while toolbox.events.counts()["done"] < expected:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited with {worker.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"only {toolbox.events.counts()} after {timeout}s")
        time.sleep(0.05)


def _clear_namespace(namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)
    client.close()


def run(events: int, latency_events: int, rate: float, threads: int) -> None:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    out = Path(tempfile.mkdtemp(prefix="toolbox-bench-events-")) / "seen.json"
    with fresh_database("postgres") as url:
        producer = open_toolbox(url, redis_url=REDIS_URL, jobs={"redis_namespace": namespace})
        backlog: list[str] = []
        for start in range(0, events, 1000):
            backlog += _emit(producer, min(1000, events - start))
        worker = subprocess.Popen([sys.executable, "-m", "benchmarks", "events", "--worker", url, namespace, str(out), str(threads)],
                                  env={**os.environ, "TOOLBOX_LOG_LEVEL": "WARNING",
                                       "TOOLBOX_AUTH__SECRET_KEY": BENCH_SECRET_KEY})
        try:
            _wait_done(producer, worker, events, timeout=120)
            committed: dict[str, float] = {}
            for _ in range(latency_events):
                [event_id] = _emit(producer, 1)
                committed[event_id] = time.time()
                time.sleep(1 / rate)
            _wait_done(producer, worker, events + latency_events, timeout=60)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
            producer.close()
            _clear_namespace(namespace)
    result = json.loads(out.read_text())
    seen = dict(result["seen"])
    throughput = events / (max(seen[e] for e in backlog) - result["started"])
    latencies = sorted((seen[e] - t) * 1000 for e, t in committed.items())
    machine()
    figure("events_worker_threads", threads)
    figure("events_throughput_redis_1_worker", throughput, "events/s")
    figure("events_commit_to_handler_p50", statistics.median(latencies), "ms")
    figure("events_commit_to_handler_p95", latencies[int(len(latencies) * 0.95) - 1], "ms")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks events")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="latency phase: commits per second")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (like toolbox worker --threads)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(*args.worker)
        return
    run(args.events, args.latency_events, args.rate, args.threads)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])

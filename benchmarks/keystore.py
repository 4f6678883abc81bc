"""Key store figures on Redis from one process: OTP-style compare-and-consume.

Each operation is what ``/store/otp/verify`` does with a right code: ``verify_and_consume`` of
a stored keyed hash (one Lua script, one round trip). Keys are seeded first with a pipeline.
Also ``compare_and_consume`` and the ``set`` + ``verify_and_consume`` pair (issue, then check).

    python -m benchmarks keystore [--ops 20000] [--threads 1,8]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from benchmarks.harness import REDIS_URL, figure, machine
from toolbox_core.keystore import VerifyOutcome
from toolbox_core.keystore.redis_store import RedisKeyStore

HASH = "9f" * 32  # a 64-hex keyed hash, like an OTP code's


def seed(store: RedisKeyStore, prefix: str, count: int) -> list[str]:
    keys = [f"bench:{prefix}:{n}" for n in range(count)]
    pipe = store.client.pipeline(transaction=False)
    for n, key in enumerate(keys, 1):
        store._set(keys=[store.redis_key(key)], args=[HASH, 600_000], client=pipe)
        if n % 5000 == 0:
            pipe.execute()
    pipe.execute()
    return keys


def timed(threads: int, keys: list[str], op: Callable[[str], object]) -> float:
    """Ops per second of ``op(key)`` over ``keys`` from ``threads`` threads of this process.

    Every operation must succeed (consume its key); a failure aborts the figure.
    """
    chunks = [keys[i::threads] for i in range(threads)]

    def run(chunk: list[str]) -> int:
        return sum(1 for key in chunk if op(key) not in (True, VerifyOutcome.OK))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        failures = sum(pool.map(run, chunks))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{failures} operations did not consume their key")
    return len(keys) / elapsed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks keystore")
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--threads", default="1,8")
    args = parser.parse_args(argv)
    machine()
    store = RedisKeyStore(REDIS_URL)
    store.client.flushdb()
    try:
        for threads in (int(t) for t in args.threads.split(",")):
            keys = seed(store, f"v{threads}", args.ops)
            rate = timed(threads, keys, lambda k: store.verify_and_consume(k, HASH, 5))
            figure(f"keystore_redis_verify_and_consume_{threads}t", rate, "ops/s")
            keys = seed(store, f"c{threads}", args.ops)
            rate = timed(threads, keys, lambda k: store.compare_and_consume(k, HASH))
            figure(f"keystore_redis_compare_and_consume_{threads}t", rate, "ops/s")
            keys = [f"bench:pair{threads}:{n}" for n in range(args.ops)]

            def issue_and_check(key: str) -> VerifyOutcome:
                store.set(key, HASH, 600)
                return store.verify_and_consume(key, HASH, 5)

            figure(f"keystore_redis_set_then_verify_pairs_{threads}t", timed(threads, keys, issue_and_check), "pairs/s")
    finally:
        store.client.flushdb()
        store.close()

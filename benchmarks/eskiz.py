"""Eskiz figures: SMS jobs per second in one worker process, and no SMS lost or doubled on a kill.

    python -m benchmarks eskiz [--messages 3000] [--threads 16]

A fake Eskiz (``tests/fakes/eskiz.py``, real HTTP on loopback) runs in this process; one
``toolbox worker`` process (PostgreSQL, the Redis broker, the eskiz plugin) works off
``--messages`` queued ``toolbox.notify("order.placed", ...)`` jobs, each rendering the text,
claiming its message record, calling Eskiz and recording the answer.

* Throughput: messages received by the fake per second, from the first to the last (worker
  start-up excluded). Target: at least 300 SMS jobs per second.
* Kill: a second batch; the worker is killed with SIGKILL once a third has arrived, then
  started again. Every job must reach the fake exactly once: the counts are taken at the fake
  (each text carries its job number). Redelivery of the dead worker's messages waits for
  the broker's heartbeat timeout (set to 10 s here with
  ``jobs.redis_heartbeat_timeout_ms``; 60 s by default).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from benchmarks.harness import (
    BENCH_SECRET_KEY,
    REDIS_URL,
    figure,
    fresh_database,
    machine,
    open_toolbox,
)
from tests.fakes.eskiz import FakeEskiz
from toolbox_core.testing import serve_asgi

NUMBER = re.compile(r"№(\d+) ")


def _env(database_url: str, namespace: str, eskiz_url: str, fake: FakeEskiz) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    env.update({
        "TOOLBOX_DATABASE_URL": database_url, "TOOLBOX_REDIS_URL": REDIS_URL, "TOOLBOX_PLUGINS": "eskiz",
        "TOOLBOX_JOBS__REDIS_NAMESPACE": namespace, "TOOLBOX_LOG_LEVEL": "WARNING",
        "TOOLBOX_AUTH__SECRET_KEY": BENCH_SECRET_KEY,
        # Notice the killed worker sooner than Dramatiq's 60 s and requeue its messages promptly.
        "TOOLBOX_JOBS__REDIS_HEARTBEAT_TIMEOUT_MS": "10000", "TOOLBOX_JOBS__REDIS_MAINTENANCE_CHANCE": "100000",
        "TOOLBOX_ESKIZ__EMAIL": fake.email, "TOOLBOX_ESKIZ__PASSWORD": fake.password,
        "TOOLBOX_ESKIZ__BASE_URL": eskiz_url, "TOOLBOX_ESKIZ__PUBLIC_URL": "http://127.0.0.1:9",
        "TOOLBOX_ESKIZ__CALLBACK_TOKEN": uuid.uuid4().hex,
    })
    return env


LOG = Path(os.environ.get("TMPDIR", "/tmp")) / "toolbox-bench-eskiz-worker.log"


def _start_worker(env: dict[str, str], threads: int) -> subprocess.Popen[bytes]:
    toolbox = str(Path(sys.executable).with_name("toolbox"))
    with LOG.open("ab") as log:
        worker = subprocess.Popen([toolbox, "worker", "--threads", str(threads), "--no-scheduler"], env=env,
                                  stdout=log, stderr=log)
    time.sleep(1.0)
    if worker.poll() is not None:  # refused to start: say why instead of waiting for messages
        raise SystemExit(f"the worker exited with {worker.returncode}; see {LOG}")
    return worker


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


def _enqueue(toolbox, run: str, first: int, count: int) -> None:
    for number in range(first, first + count):
        toolbox.notify("order.placed", "+998901234567", "ru",
                       {"number": str(number), "total": 12_500_000, "shipping_name": "Курьер"},
                       idempotency_key=f"bench:{run}:{number}")


def _numbers(fake: FakeEskiz) -> Counter[int]:
    with fake._lock:
        texts = [m.text for m in fake.messages]
    return Counter(int(match.group(1)) for text in texts if (match := NUMBER.search(text)))


def _wait(fake: FakeEskiz, wanted: set[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted <= set(_numbers(fake)):
            return True
        time.sleep(0.05)
    return False


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks eskiz")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    machine()
    fake = FakeEskiz(balance=10**9)  # never the limit here
    with serve_asgi(fake.app) as url:
        eskiz_url = url + "/api"
        namespace = f"bench-eskiz-{uuid.uuid4().hex[:8]}"
        os.environ.update({k: v for k, v in _env("", namespace, eskiz_url, fake).items()
                           if k.startswith("TOOLBOX_ESKIZ__")})
        with fresh_database("postgres", plugins=["eskiz"]) as database_url:
            env = _env(database_url, namespace, eskiz_url, fake)
            toolbox = open_toolbox(database_url, plugins=["eskiz"], redis_url=REDIS_URL,
                                   jobs={"redis_namespace": namespace})
            run = uuid.uuid4().hex[:6]
            total = args.messages
            try:
                # ---------------------------------------------------------------- throughput
                _enqueue(toolbox, run, 0, total)
                worker = _start_worker(env, args.threads)
                try:
                    done = _wait(fake, set(range(total)), timeout=120)
                finally:
                    _stop(worker)
                with fake._lock:
                    times = sorted(m.created_at for m in fake.messages)
                figure("sms jobs", len(times))
                if done and len(times) > 1:
                    figure("sms jobs per second (one worker process)", (len(times) - 1) / (times[-1] - times[0]), "jobs/s")
                else:
                    figure("sms jobs per second (one worker process)", "incomplete")

                # ---------------------------------------------------------------- kill -9
                fake.messages.clear()
                _enqueue(toolbox, run, total, total)
                wanted = set(range(total, 2 * total))
                worker = _start_worker(env, args.threads)
                while len(fake.messages) < total // 3 and worker.poll() is None:
                    time.sleep(0.01)
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
                at_kill = len(fake.messages)
                restarted = _start_worker(env, args.threads)
                try:
                    finished = _wait(fake, wanted, timeout=300)
                    time.sleep(2)  # anything doubled late would show up here
                finally:
                    _stop(restarted)
                counts = _numbers(fake)
                figure("messages at the fake when the worker was killed", at_kill)
                figure("lost messages after kill and restart", len(wanted - set(counts)))
                figure("doubled messages after kill and restart", sum(c - 1 for c in counts.values() if c > 1))
                figure("all delivered after restart", "yes" if finished else "no")
            finally:
                toolbox.close()


if __name__ == "__main__":
    main(sys.argv[1:])

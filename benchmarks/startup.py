"""Kernel figures: ``toolbox serve`` cold start to first ``/health`` with all five integrations.

    python -m benchmarks startup [--runs 5]

Prints the median over runs of: start on an already migrated SQLite database
(``serve_cold_start``), and first start in an empty folder including migrations
(``serve_first_start``). Target: cold start under 1.5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.harness import figure, free_port, machine

INTEGRATIONS = ["payme", "click", "bts", "eskiz", "moysklad"]

#: Settings the five integrations require (placeholders: nothing is called at start-up).
INTEGRATION_ENV = {
    "TOOLBOX_PAYME__MERCHANT_ID": "bench-merchant",
    "TOOLBOX_PAYME__KEY": "bench-key",
    "TOOLBOX_CLICK__SERVICE_ID": "1",
    "TOOLBOX_CLICK__MERCHANT_ID": "1",
    "TOOLBOX_CLICK__SECRET_KEY": "bench-secret",
    "TOOLBOX_BTS__LOGIN": "bench",
    "TOOLBOX_BTS__PASSWORD": "bench",
    "TOOLBOX_ESKIZ__EMAIL": "bench@example.uz",
    "TOOLBOX_ESKIZ__PASSWORD": "bench",
    "TOOLBOX_MOYSKLAD__TOKEN": "bench",
}


def time_serve(folder: Path, migrate: bool) -> float:
    """Seconds from spawning ``toolbox serve`` to the first 200 from ``/health``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    env.update(INTEGRATION_ENV, TOOLBOX_PLUGINS=",".join(INTEGRATIONS), TOOLBOX_LOG_LEVEL="WARNING")
    toolbox_cmd = str(Path(sys.executable).with_name("toolbox"))
    cmd = [toolbox_cmd, "serve", "--port", str(port)] + ([] if migrate else ["--no-migrate"])
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"toolbox serve exited with {proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                time.sleep(0.005)
            if time.perf_counter() - started > 30:
                raise RuntimeError("no /health within 30 s")
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str]) -> None:
    args = argparse.ArgumentParser(prog="benchmarks startup")
    args.add_argument("--runs", type=int, default=5)
    opts = args.parse_args(argv)
    machine()
    first, cold = [], []
    for _ in range(opts.runs):
        folder = Path(tempfile.mkdtemp(prefix="toolbox-startup-"))
        try:
            first.append(time_serve(folder, migrate=True))
            cold.append(time_serve(folder, migrate=False))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    figure("serve_cold_start", statistics.median(cold) * 1000, "ms")
    figure("serve_first_start", statistics.median(first) * 1000, "ms")

"""Plugin-kit figures: the author's loop and the cost of calling hooks through pluggy.

    python -m benchmarks kit [--calls 20000]

* ``scaffold``: ``create_plugin`` of one plugin of every kind (ms);
* ``install``: one ``pip install --no-deps --no-build-isolation`` of the five into a target (s);
* ``generated tests``: the generated payment plugin's own tests and contract suite (s, one run);
* ``hook call``: ``call_each("shipping_providers")`` through ``pm.hook`` with plugin attribution,
  per call (µs), next to a bare ``pm.hook.shipping_providers()`` call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import figure, machine


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks kit")
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args(argv)
    machine()
    from toolbox_core.scaffold import KINDS, create_plugin

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        sources = [create_plugin(f"bench_{kind}", kind, root / "src", taken=set()) for kind in KINDS]
        figure("scaffold, 5 kinds", (time.perf_counter() - started) * 1000, "ms")

        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", str(root / "site"), *map(str, sources)], check=True, capture_output=True)
        figure("pip install, 5 plugins", time.perf_counter() - started, "s")

        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=sources[0],
                             env={**env, "PYTHONPATH": str(root / "site")}, capture_output=True, text=True)
        figure("generated payment plugin tests", time.perf_counter() - started, "s")
        figure("generated payment plugin tests result", run.stdout.strip().splitlines()[-1])

    from toolbox_core.config import Settings
    from toolbox_core.kernel import Toolbox

    with tempfile.TemporaryDirectory() as tmp:
        toolbox = Toolbox.create(Settings(database_url=f"sqlite:///{tmp}/b.db", plugins=["example"]), wire=False)
        call_each = toolbox.plugins.call_each
        for _ in range(200):
            call_each("shipping_providers", toolbox=toolbox)
        started = time.perf_counter()
        for _ in range(args.calls):
            call_each("shipping_providers", toolbox=toolbox)
        figure("hook call via call_each (2 plugins)", (time.perf_counter() - started) / args.calls * 1e6, "µs")
        hook = toolbox.plugins.pm.hook.shipping_providers
        started = time.perf_counter()
        for _ in range(args.calls):
            hook(toolbox=toolbox)
        figure("bare pm.hook call (2 plugins)", (time.perf_counter() - started) / args.calls * 1e6, "µs")
        toolbox.close()

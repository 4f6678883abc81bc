"""Kernel figure: plugin discovery and wiring cost with 20 installed plugins.

    python -m benchmarks discovery [--plugins 20] [--runs 20]

Installs N generated plugin distributions (real ``.dist-info`` metadata with entry points) into
a temporary folder on ``sys.path``, then times, in a fresh interpreter each run, discovering
them through the entry-point group, importing, checking, validating settings and wiring
providers (``Toolbox.create``). Target: under 100 ms for 20 plugins. Also printed: the same with
no plugin enabled (the kernel's built-in domains alone) and the difference, the cost the 20
plugins add; the import of the kernel before it (CPU time too); and, after it, the first app
build with the 20 plugins (``create_app(toolbox=...)``, importing ``toolbox_core.app`` included),
where the domains' routers, services and models are imported: ``Toolbox.create`` imports only
what wiring needs, so that cost is shown here rather than hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import figure, machine

PLUGIN_MODULE = '''
from pydantic import BaseModel
from fastapi import APIRouter
from toolbox_core.api import hookimpl, ShippingQuote

KERNEL_API = ">=1.0,<2"

class Settings(BaseModel):
    price: int = 100

class Provider:
    id = "bench_{n}"
    name = "Bench {n}"
    def quote(self, cart):
        return [ShippingQuote(provider_id=self.id, option_id="x", name=self.name, amount=100)]

@hookimpl
def settings_model():
    return Settings

@hookimpl
def shipping_providers(toolbox):
    return [Provider()]

@hookimpl
def register_routes(toolbox):
    router = APIRouter(prefix="/store/bench{n}")
    @router.get("/ping")
    def ping():
        return {{"ok": True}}
    return [router]
'''

TIMER = '''
import json, sys, time
sys.path.insert(0, {site!r})
t0, c0 = time.perf_counter(), time.process_time()
from toolbox_core.config import Settings
from toolbox_core.kernel import Toolbox
t1, c1 = time.perf_counter(), time.process_time()
toolbox = Toolbox.create(Settings(database_url="sqlite:///:memory:", plugins={names!r}))
t2, c2 = time.perf_counter(), time.process_time()
assert len([p for p in toolbox.plugins.plugins.values() if p.enabled and not p.builtin]) == {count}
from toolbox_core.app import create_app
create_app(toolbox=toolbox)
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({{"import": t1 - t0, "discover_and_wire": t2 - t1, "app_build": t3 - t2,
                  "import_cpu": c1 - c0, "discover_and_wire_cpu": c2 - c1, "app_build_cpu": c3 - c2}}))
'''


def install_fake_plugins(site: Path, count: int) -> list[str]:
    names = []
    for n in range(count):
        name = f"bench{n}"
        pkg = site / f"toolbox_bench{n}"
        pkg.mkdir()
        (pkg / "__init__.py").write_text(PLUGIN_MODULE.format(n=n))
        dist = site / f"toolbox_bench{n}-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: toolbox-bench{n}\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text(f"[toolbox.plugins]\n{name} = toolbox_bench{n}\n")
        names.append(name)
    return names


def main(argv: list[str]) -> None:
    args = argparse.ArgumentParser(prog="benchmarks discovery")
    args.add_argument("--plugins", type=int, default=20)
    args.add_argument("--runs", type=int, default=20)
    opts = args.parse_args(argv)
    machine()
    with tempfile.TemporaryDirectory(prefix="toolbox-discovery-") as tmp:
        site = Path(tmp)
        names = install_fake_plugins(site, opts.plugins)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}

        def measure(enabled: list[str]) -> list[dict[str, float]]:
            code = TIMER.format(site=str(site), names=enabled, count=len(enabled))
            return [
                json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout)
                for _ in range(opts.runs)
            ]

        base_samples = measure([])
        baseline = statistics.median(s["discover_and_wire"] for s in base_samples)
        samples = measure(names)
    total = statistics.median(s["discover_and_wire"] for s in samples)
    figure("kernel_import", statistics.median(s["import"] for s in samples) * 1000, "ms")
    figure("kernel_wiring_no_plugins", baseline * 1000, "ms")
    figure(f"plugin_discovery_and_wiring_{opts.plugins}_plugins", total * 1000, "ms")
    figure(f"plugin_cost_of_{opts.plugins}_plugins", (total - baseline) * 1000, "ms")
    # CPU time of the same steps: robust on a shared machine, where the wall times above are not.
    cpu = statistics.median(s["discover_and_wire_cpu"] for s in samples)
    figure("kernel_import_cpu", statistics.median(s["import_cpu"] for s in samples) * 1000, "ms")
    figure("kernel_wiring_no_plugins_cpu", statistics.median(s["discover_and_wire_cpu"] for s in base_samples) * 1000, "ms")
    figure(f"plugin_discovery_and_wiring_{opts.plugins}_plugins_cpu", cpu * 1000, "ms")
    # The first create_app after Toolbox.create: where the imports create defers are paid.
    figure(f"first_app_build_{opts.plugins}_plugins", statistics.median(s["app_build"] for s in samples) * 1000, "ms")
    figure(f"first_app_build_{opts.plugins}_plugins_cpu", statistics.median(s["app_build_cpu"] for s in samples) * 1000, "ms")

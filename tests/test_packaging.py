"""Every distribution builds as a wheel with the right entry point and data files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INTEGRATIONS = ["payme", "click", "bts", "eskiz", "moysklad"]


def test_pip_wheel_builds_the_kernel_every_integration_and_the_example(tmp_path: Path) -> None:
    sources = [REPO, *(REPO / f"toolbox_{n}" for n in INTEGRATIONS), REPO / "plugins/example",
               REPO / "plugins/telegram"]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), *map(str, sources)],
        check=True,
    )
    wheels = {p.name.split("-")[0]: p for p in tmp_path.glob("*.whl")}
    assert set(wheels) == {"toolbox_core", *(f"toolbox_{n}" for n in INTEGRATIONS), "toolbox_example",
                           "toolbox_telegram"}

    core = zipfile.ZipFile(wheels["toolbox_core"]).namelist()
    assert "toolbox_core/migrations/env.py" in core
    assert "toolbox_core/migrations/script.py.mako" in core
    assert any(n.startswith("toolbox_core/migrations/versions/0001") for n in core)
    assert not any(n.startswith(("toolbox_payme/", "tests/", "benchmarks/")) for n in core)
    assert "toolbox_core/scaffold/templates/common/pyproject.toml.tmpl" in core, "scaffold templates are package data"
    assert "toolbox_core/scaffold/templates/payment/provider.py.tmpl" in core

    for name in INTEGRATIONS:
        wheel = zipfile.ZipFile(wheels[f"toolbox_{name}"])
        entry_points = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))
        text = wheel.read(entry_points).decode()
        assert "[toolbox.plugins]" in text and f"{name} = toolbox_{name}.plugin" in text
        metadata = wheel.read(next(n for n in wheel.namelist() if n.endswith("METADATA"))).decode()
        assert "Requires-Dist: toolbox-core" in metadata


def test_each_integration_says_the_version_its_distribution_has() -> None:
    import importlib
    import tomllib

    for name in INTEGRATIONS:
        project = tomllib.loads((Path(__file__).parents[1] / f"toolbox_{name}" / "pyproject.toml").read_text())
        assert importlib.import_module(f"toolbox_{name}").__version__ == project["project"]["version"], name

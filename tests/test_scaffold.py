"""``toolbox plugin new``: every kind generates a distribution that installs with pip, loads,
passes ruff and passes its own tests and its kind's contract suite right after generation.

The five plugins are generated, pip-installed (one pip run, into a target folder) and their
tests run (one pytest run) once per test session, shared by xdist workers through a lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolbox_core.scaffold import KINDS, ScaffoldError, create_plugin

TOOLBOX = str(Path(sys.executable).with_name("toolbox"))
CONTRACT = {"payment": "PaymentContract", "shipping": "ShippingContract",
            "notification": "ChannelContract", "inventory": "SourceContract"}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TOOLBOX_", "PYTEST_", "COV_")) or k.startswith("TOOLBOX_TEST_")}
    return {**env, **extra}


def _shared(root: Path, name: str, build: Callable[[Path], None]) -> Path:
    """``root/name`` built once for every xdist worker of this session (file lock)."""
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".done").exists():
            folder.mkdir(parents=True, exist_ok=True)
            build(folder)
            (folder / ".done").write_text("ok")
    return folder


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One plugin of every kind generated, installed with pip into ``site`` and tested."""
    # Under xdist every worker has its own basetemp inside the session's folder: share that.
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base

    def build(folder: Path) -> None:
        sources = [create_plugin(f"gen_{kind}", kind, folder / "src", taken=set()) for kind in KINDS]
        site = folder / "site"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--target", str(site),
                        *map(str, sources)], check=True, capture_output=True)
        # Each plugin's tests run from its own folder (its pyproject is the pytest config), all at once.
        runs = [subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml", str(folder / f"{s.name}.xml")],
            cwd=s, env=_clean_env(PYTHONPATH=str(site)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for s in sources]
        outputs = [run.communicate(timeout=300)[0] for run in runs]
        lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                              cwd=folder / "src", capture_output=True, text=True)
        (folder / "run.json").write_text(json.dumps({
            "pytest_out": "\n".join(out[-3000:] for out in outputs),
            "ruff_rc": lint.returncode, "ruff_out": lint.stdout[-4000:]}))

    folder = _shared(shared, "scaffolded-plugins", build)
    cases: dict[str, list[tuple[str, str]]] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        report = folder / f"toolbox_gen_{kind}.xml"
        for case in ET.parse(report).getroot().iter("testcase") if report.exists() else ():
            outcome = "failed" if case.find("failure") is not None or case.find("error") is not None else (
                "skipped" if case.find("skipped") is not None else "passed")
            cases[kind].append((f"{case.get('classname')}.{case.get('name')}", outcome))
    return {"folder": folder, "cases": cases, **json.loads((folder / "run.json").read_text())}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_generated_plugin_installs_and_passes_its_tests_and_contract(generated: dict[str, Any], kind: str) -> None:
    site = generated["folder"] / "site"
    assert (site / f"toolbox_gen_{kind}-0.1.0.dist-info" / "entry_points.txt").read_text().split() == [
        "[toolbox.plugins]", f"gen_{kind}", "=", f"toolbox_gen_{kind}.plugin"]
    assert list((site / f"toolbox_gen_{kind}" / "migrations" / "versions").glob("*.py")), "migrations are package data"
    cases = generated["cases"][kind]
    failed = [name for name, outcome in cases if outcome == "failed"]
    assert cases and not failed, f"{failed}\n{generated['pytest_out']}"
    assert any(name.endswith("test_its_migration_branch_is_applied") for name, _ in cases)
    if kind in CONTRACT:
        contract = [(n, o) for n, o in cases if CONTRACT[kind] in n]
        assert len(contract) >= 5 and all(o != "failed" for _, o in contract), contract


def test_generated_code_is_ruff_clean(generated: dict[str, Any]) -> None:
    assert generated["ruff_rc"] == 0, generated["ruff_out"]


def test_the_generated_pyproject_declares_the_kernel_api_range(tmp_path: Path) -> None:
    from toolbox_core import KERNEL_API_VERSION

    root = create_plugin("uzcard", "payment", tmp_path, taken=set())
    assert 'uzcard = "toolbox_uzcard.plugin"' in (root / "pyproject.toml").read_text()
    plugin = (root / "src" / "toolbox_uzcard" / "plugin.py").read_text()
    assert f'KERNEL_API = ">={KERNEL_API_VERSION},<2"' in plugin
    assert "from toolbox_core.api import" in plugin and "toolbox_core." not in plugin.replace("toolbox_core.api", "")
    readme = (root / "README.md").read_text()
    assert "TOOLBOX_PLUGINS=uzcard" in readme and "TOOLBOX_UZCARD__MERCHANT_ID" in readme


@pytest.mark.parametrize(("name", "message"), [
    ("payme", "taken by an installed plugin"),
    ("My-Plugin", "invalid plugin name"),
    ("x", "invalid plugin name"),
    ("class", "invalid plugin name"),
    ("core", "reserved"),
])
def test_a_taken_or_invalid_name_is_a_clear_error(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ScaffoldError, match=message):
        create_plugin(name, "payment", tmp_path)
    assert not list(tmp_path.iterdir()), "nothing is written"


def test_the_cli_creates_the_plugin_and_refuses_an_existing_folder(tmp_path: Path) -> None:
    first = subprocess.run([TOOLBOX, "plugin", "new", "uzcard", "--kind", "shipping"], cwd=tmp_path,
                           env=_clean_env(COLUMNS="200"), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "toolbox_uzcard" / "src" / "toolbox_uzcard" / "provider.py").is_file()
    again = subprocess.run([TOOLBOX, "plugin", "new", "uzcard", "--kind", "shipping"], cwd=tmp_path,
                           env=_clean_env(COLUMNS="200"), capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr
    unknown = subprocess.run([TOOLBOX, "plugin", "new", "humo", "--kind", "bank"], cwd=tmp_path,
                             env=_clean_env(COLUMNS="200"), capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown kind 'bank'" in unknown.stderr

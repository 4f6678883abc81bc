"""Plugins depend only on the documented public kernel API, ``toolbox_core.api``."""

from __future__ import annotations

import ast
from pathlib import Path

import toolbox_core.api as api

REPO = Path(__file__).resolve().parent.parent
PLUGIN_SOURCES = [*REPO.glob("toolbox_*/src/**/*.py"), *REPO.glob("plugins/*/src/**/*.py")]


def kernel_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolbox_core"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("toolbox_core")}
    return found


def test_plugins_import_only_the_public_api() -> None:
    assert PLUGIN_SOURCES, "no plugin sources found"
    offenders = {
        str(path.relative_to(REPO)): sorted(mods - {"toolbox_core.api"})
        for path in PLUGIN_SOURCES
        if (mods := kernel_imports(path)) - {"toolbox_core.api"}
    }
    assert not offenders, f"plugins must import from toolbox_core.api only: {offenders}"


def test_public_api_exports_resolve() -> None:
    for name in api.__all__:
        assert getattr(api, name) is not None, name


def test_plugins_localize_with_the_kernels_rule() -> None:
    """``request_locale`` is the dependency plugin routes share; ``localized_text`` reads a
    setting that is one string or a text per locale."""
    import inspect

    assert inspect.iscoroutinefunction(api.request_locale)
    assert api.localized_text("Courier", "uz", "ru") == "Courier"
    assert api.localized_text({"ru": "Курьер", "uz": "Kuryer"}, "uz", "ru") == "Kuryer"
    assert api.localized_text({"ru": "Курьер"}, "uz", "ru") == "Курьер"

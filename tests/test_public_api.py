"""Plugins depend only on the documented public kernel API, ``toolbox_core.api``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


def test_lazy_public_names_match_their_type_checking_imports() -> None:
    """``_LAZY`` (what ``__getattr__`` imports) and the ``TYPE_CHECKING`` block (what type
    checkers see) name the same objects, and ``__all__`` is the eager and lazy names."""
    tree = ast.parse(Path(api.__file__).read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If)
                   and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    declared = {
        alias.asname or alias.name: node.module if alias.asname is None else f"{node.module}:{alias.name}"
        for node in guarded.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert declared == api._LAZY
    eager = {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
             and node.module != "__future__" and node.module != "importlib" and node.module != "typing"
             for alias in node.names}
    assert set(api.__all__) == eager | set(api._LAZY)
    assert len(api.__all__) == len(set(api.__all__))
    assert set(api.__all__) <= set(dir(api))


def test_an_unknown_public_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'CartServce'"):
        api.CartServce  # noqa: B018
    with pytest.raises(ImportError):
        from toolbox_core.api import CartServce  # noqa: F401


def test_plugins_format_timestamps_as_the_kernel_does() -> None:
    from datetime import datetime

    from pydantic import BaseModel

    class Row(BaseModel):
        at: api.UtcDateTime

    naive = datetime(2026, 12, 2, 17, 9, 34)
    assert api.iso_utc(naive) == "2026-12-02T17:09:34.000000Z"
    assert Row(at=naive).model_dump(mode="json") == {"at": "2026-12-02T17:09:34.000000Z"}
def test_print_rows_gives_plugin_commands_the_kernel_table_and_json(monkeypatch, capsys) -> None:
    import json

    rows = [{"id": "msr_01M8VX5SGE5MMVM232EFXHB353", "status": "ok", "note": "a long explanation " * 8}]
    columns = [api.TableColumn("id", ident=True), api.TableColumn("status"), api.TableColumn("note")]
    monkeypatch.setenv("COLUMNS", "60")
    api.print_rows(rows, columns)
    table = capsys.readouterr().out
    assert rows[0]["id"] in table and max(len(line) for line in table.splitlines()) <= 60
    api.print_rows(rows, columns, as_json=True)
    assert json.loads(capsys.readouterr().out) == rows
def test_plugins_localize_with_the_kernels_rule() -> None:
    """``request_locale`` is the dependency plugin routes share; ``localized_text`` reads a
    setting that is one string or a text per locale."""
    import inspect

    assert inspect.iscoroutinefunction(api.request_locale)
    assert api.localized_text("Courier", "uz", "ru") == "Courier"
    assert api.localized_text({"ru": "Курьер", "uz": "Kuryer"}, "uz", "ru") == "Kuryer"
    assert api.localized_text({"ru": "Курьер"}, "uz", "ru") == "Курьер"

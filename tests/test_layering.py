"""The domains (orders, payments, checkout, inventory, cart) form no import cycle; orchestration
that spans them lives in ``toolbox_core.workflows``, which no domain imports. The HTTP adapters
(``store_api``, ``admin_api``) and the plugin modules sit above both and may import either."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "toolbox_core"
DOMAINS = ("orders", "payments", "checkout", "inventory", "cart")
ADAPTERS = ("store_api", "admin_api", "plugin")


def _imports(path: Path) -> set[str]:
    """Every ``toolbox_core`` module ``path`` imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolbox_core"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("toolbox_core"))
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        module = ".".join(("toolbox_core", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        graph[module] = _imports(path)
    return graph


def _domain_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in DOMAINS or parts[-1] in ADAPTERS:
        return None
    return parts[1]


def test_no_domain_imports_the_workflow_layer():
    offenders = sorted(f"{m} -> {i}" for m, imports in _graph().items() if _domain_of(m)
                       for i in imports if i.startswith("toolbox_core.workflows"))
    assert offenders == []


def test_the_domain_service_modules_have_no_import_cycle():
    graph = {m: {i for i in imports if _domain_of(i)} for m, imports in _graph().items() if _domain_of(m)}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                cycles.append([*path[path.index(target):], target])
            elif len(path) < 12:
                visit(target, [*path, target])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []

"""The event registry is the one documented list of event names and payloads."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from toolbox_core.events.plugin import register_commands
from toolbox_core.events.registry import EventRegistry
from toolbox_core.events.types import EventType
from toolbox_core.plugins import PluginError, PluginManager

ROOT = Path(__file__).resolve().parents[1]
KERNEL_EVENTS = {
    "order.placed", "order.canceled", "order.fulfilled", "payment.captured", "payment.refunded",
    "product.created", "product.updated", "product.deleted", "inventory.updated", "customer.created",
}


def kernel_registry() -> EventRegistry:
    manager = PluginManager()
    manager.load([])
    return EventRegistry.from_plugins(manager)


def test_hook_event_types_declares_the_kernel_events_with_their_payloads():
    registry = kernel_registry()
    assert {d.type.name for d in registry} >= KERNEL_EVENTS
    assert {"order_id", "number", "customer_id", "total"} <= set(registry.get("order.placed").payload)
    assert "tiyin" in registry.get("payment.captured").payload["amount"]
    assert {"skus", "reason"} <= set(registry.get("inventory.updated").payload)
    assert {"customer_id", "phone"} <= set(registry.get("customer.created").payload)
    owners = {d.type.name: d.plugin for d in registry}
    assert owners["order.placed"] == "core.checkout"
    assert owners["product.updated"] == "core.catalog"
    assert owners["customer.created"] == "core.customers"


def test_the_same_event_declared_twice_identically_is_accepted():
    registry = EventRegistry()
    event = EventType("order.placed", "placed", {"order_id": "id"})
    registry.add("core.events", event)
    registry.add("core.orders", EventType("order.placed", "placed", {"order_id": "id"}))
    assert len(registry) == 1
    assert next(iter(registry)).plugin == "core.events"


def test_conflicting_declarations_of_one_event_are_a_startup_error():
    registry = EventRegistry()
    registry.add("core.events", EventType("order.placed", "placed", {"order_id": "id"}))
    with pytest.raises(PluginError, match=r"declares event 'order\.placed' differently"):
        registry.add("acme", EventType("order.placed", "placed", {"order_id": "id"}, version=2))


def _emitted_names(path: Path) -> list[tuple[int, str | None]]:
    """(line, event name) of every ``emit(...)`` call in ``path``.

    The name is a string literal or a module-level constant of that module; anything else
    (a computed name) gives ``None``.
    """
    module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called == "emit" and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant):
                    found.append((node.lineno, name.value))
                elif isinstance(name, ast.Name) and isinstance(getattr(module, name.id, None), str):
                    found.append((node.lineno, getattr(module, name.id)))
                else:
                    found.append((node.lineno, None))
    return found


def test_every_event_emitted_in_the_kernel_is_registered():
    registry = kernel_registry()
    problems = []
    for path in sorted((ROOT / "toolbox_core").rglob("*.py")):
        if "emit(" not in path.read_text() or "migrations" in path.parts:
            continue
        for line, name in _emitted_names(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if name is None:
                problems.append(f"{where}: emit() with a computed event name; use a literal or a constant")
            elif name not in registry:
                problems.append(f"{where}: {name!r} is not declared with the event_types hook")
    assert problems == []


def test_committed_event_docs_match_the_registry():
    committed = (ROOT / "docs" / "events.md").read_text()
    assert committed == kernel_registry().to_markdown(), "run: toolbox events docs > docs/events.md"


@pytest.fixture
def cli(clean_env, sqlite_url, monkeypatch):
    monkeypatch.setenv("TOOLBOX_DATABASE_URL", sqlite_url)
    app = typer.Typer()
    app.command("noop")(lambda: None)  # keep sub-apps addressable by name
    register_commands(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_events_types_command_prints_the_registry(cli):
    result = cli("events", "types")
    assert result.exit_code == 0, result.output
    assert "order.placed" in result.output and "core.events" in result.output


def test_events_docs_command_prints_markdown(cli):
    result = cli("events", "docs")
    assert result.exit_code == 0
    assert result.output == kernel_registry().to_markdown()

"""Every hook is documented and tested: the hookspec module is the plugin author's manual."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from toolbox_core import hookspecs

TESTS = Path(__file__).parent


def all_hookspecs() -> dict[str, object]:
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")
    }


def test_hookspecs_exist_for_every_extension_point() -> None:
    assert {
        "settings_model", "register_routes", "payment_providers", "shipping_providers",
        "notification_channels", "otp_senders", "inventory_sources", "event_types",
        "event_subscribers", "register_jobs", "scheduled_jobs", "migrations",
        "register_commands", "startup", "shutdown",
    } <= set(all_hookspecs())


def test_every_hook_has_a_docstring_saying_when_it_is_called_and_what_it_returns() -> None:
    for name, fn in all_hookspecs().items():
        doc = inspect.getdoc(fn) or ""
        assert len(doc) > 60, f"hook {name} needs a docstring"
        assert "called" in doc.lower(), f"hook {name}: say when it is called"
        assert "return" in doc.lower(), f"hook {name}: say what it returns"


def test_every_hook_has_a_test_of_its_own() -> None:
    """A test named ``test_hook_<name>...`` must exist somewhere under tests/ for every hook."""
    source = "\n".join(p.read_text() for p in TESTS.rglob("test_*.py"))
    tested = set(re.findall(r"def test_hook_(\w+)", source))
    missing = [name for name in all_hookspecs() if not any(t.startswith(name) for t in tested)]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"

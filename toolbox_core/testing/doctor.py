"""Run one plugin's ``doctor_checks`` in a test, as ``toolbox doctor`` would."""

from __future__ import annotations

from typing import Any

from toolbox_core.doctor import Check, plugin_checks


def plugin_doctor_checks(toolbox: Any, plugin: str) -> list[Check]:
    """The checks of ``plugin``'s ``doctor_checks`` hook (a hook that raises: one failed check)."""
    from toolbox_core.asyncutil import resolve

    checks: list[Check] = []
    for impl in toolbox.plugins.pm.hook.doctor_checks.get_hookimpls():
        if impl.plugin_name != plugin:
            continue
        try:
            checks.extend(resolve(impl.function(toolbox=toolbox)) or [])
        except Exception as exc:
            checks.append(Check(plugin, False, f"doctor check failed: {type(exc).__name__}"))
    return checks


__all__ = ["plugin_checks", "plugin_doctor_checks"]

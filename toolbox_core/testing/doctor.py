"""Run one plugin's ``doctor_checks`` in a test, as ``toolbox doctor`` would."""

from __future__ import annotations

from typing import Any

from toolbox_core.doctor import Check, plugin_checks


def plugin_doctor_checks(toolbox: Any, plugin: str) -> list[Check]:
    """The checks of ``plugin``'s ``doctor_checks`` hook (a hook that raises: one failed check)."""
    return plugin_checks(toolbox, only=plugin)


__all__ = ["plugin_checks", "plugin_doctor_checks"]

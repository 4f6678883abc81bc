"""Run one plugin's ``doctor_checks`` in a test, as ``toolbox doctor`` would."""

from __future__ import annotations

from typing import Any

from toolbox_core.doctor import Check, plugin_checks


def plugin_doctor_checks(toolbox: Any, plugin: str) -> list[Check]:
    """The checks of ``plugin``'s ``doctor_checks`` hook (a hook that raises: one failed check)."""
    return plugin_checks(toolbox, only=plugin)


def toolbox_before_migrate(settings: Any, plugin_settings: dict[str, Any], path: Any) -> Any:
    """A ``Toolbox`` with ``settings`` (and its enabled plugins given ``plugin_settings``) on a new
    SQLite database at ``path`` where only the kernel is migrated: the plugins' tables are
    missing, as when a plugin is enabled and ``toolbox migrate`` was not run again. Close it."""
    from toolbox_core.kernel import Toolbox

    url = f"sqlite:///{path}"
    kernel = Toolbox.create(settings.model_copy(update={"database_url": url, "plugins": []}))
    try:
        kernel.migrate()
    finally:
        kernel.close()
    return Toolbox.create(settings.model_copy(update={"database_url": url}), plugin_settings=plugin_settings)


__all__ = ["plugin_checks", "plugin_doctor_checks", "toolbox_before_migrate"]

"""``toolbox doctor`` with broken plugins: every problem is reported, and the other checks still run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolbox_core.doctor import Check, run_checks

#: A plugin whose doctor check runs (it needs no settings).
HEALTHY_PLUGIN = """
from toolbox_core.api import DoctorCheck, hookimpl
KERNEL_API = ">=1.1,<2"

@hookimpl
def doctor_checks(toolbox):
    return [DoctorCheck("healthy.gateway", True, "gateway answers")]
"""

#: A plugin with a required setting whose doctor check must never run without it.
NEEDY_PLUGIN = """
from pydantic import BaseModel
from toolbox_core.api import DoctorCheck, hookimpl
KERNEL_API = ">=1.1,<2"

class NeedySettings(BaseModel):
    token: str

@hookimpl
def settings_model():
    return NeedySettings

@hookimpl
def doctor_checks(toolbox):
    toolbox.plugin_settings("needy")  # raises without settings: doctor must not call this
    return [DoctorCheck("needy.token", True, "token accepted")]
"""


def checks_named(checks: list[Check], name: str) -> list[Check]:
    return [c for c in checks if c.name == name]


def test_every_enabled_plugin_with_missing_settings_is_reported_and_the_kernel_checks_still_run(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLBOX_PLUGINS", "payme,click")
    checks = run_checks()
    failed = [c.message for c in checks_named(checks, "plugins") if not c.ok]
    assert len(failed) == 2
    assert "plugin 'payme'" in failed[0] and "TOOLBOX_PAYME__MERCHANT_ID: is required but not set" in failed[0]
    assert "plugin 'click'" in failed[1] and "TOOLBOX_CLICK__SERVICE_ID: is required but not set" in failed[1]
    names = {c.name for c in checks}
    assert {"secret_key", "cookies", "trusted_proxies", "database", "redis", "search", "storage"} <= names


def test_a_plugin_that_is_not_installed_is_one_failure_beside_the_others(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLBOX_PLUGINS", "paymee,payme")
    failed = [c.message for c in checks_named(run_checks(), "plugins") if not c.ok]
    assert len(failed) == 2
    assert "'paymee': is enabled in config but not installed" in failed[0]
    assert "'payme': invalid settings" in failed[1]


def test_a_working_plugin_is_listed_and_its_doctor_check_runs_beside_a_broken_one(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch, plugin_site: Any) -> None:
    plugin_site.install("healthy", HEALTHY_PLUGIN)
    plugin_site.install("needy", NEEDY_PLUGIN)
    monkeypatch.setenv("TOOLBOX_PLUGINS", "needy,healthy")
    checks = run_checks()
    assert Check("plugins", True, "enabled: healthy") in checks
    assert Check("healthy.gateway", True, "gateway answers") in checks
    [failure] = [c for c in checks_named(checks, "plugins") if not c.ok]
    assert "TOOLBOX_NEEDY__TOKEN: is required but not set" in failure.message
    # the plugin that failed on its settings is unregistered: its doctor check is not called
    assert not checks_named(checks, "needy") and not checks_named(checks, "needy.token")


def test_a_plugin_given_its_settings_is_checked_as_usual(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch, plugin_site: Any) -> None:
    plugin_site.install("needy", NEEDY_PLUGIN)
    monkeypatch.setenv("TOOLBOX_PLUGINS", "needy")
    monkeypatch.setenv("TOOLBOX_NEEDY__TOKEN", "test-token")
    checks = run_checks()
    assert all(c.ok for c in checks_named(checks, "plugins"))
    assert Check("needy.token", True, "token accepted") in checks

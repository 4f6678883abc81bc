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


# ------------------------------------------------------------------------------ tables_check
def test_tables_check_is_ok_on_migrated_tables_given_as_models_tables_or_names(toolbox: Any) -> None:
    from toolbox_core.api import tables_check
    from toolbox_core.catalog.models import Product
    from toolbox_core.orders.models import Order

    check = tables_check(toolbox, "demo", Product, Order.__table__, "customers")
    assert check == Check("demo: tables", True, "products, orders, customers migrated")
    assert tables_check(toolbox, "demo", Product, name="demo.tables").name == "demo.tables"


def test_tables_check_names_each_missing_table_before_migrate(tmp_path: Path) -> None:
    from toolbox_core.api import Toolbox, tables_check
    from toolbox_core.catalog.models import Product
    from toolbox_core.config import Settings

    toolbox = Toolbox.create(Settings(database_url=f"sqlite:///{tmp_path / 'new.db'}", plugins=[]))
    try:
        check = tables_check(toolbox, "demo", Product, "demo_rows")
    finally:
        toolbox.close()
    assert check == Check("demo: tables", False, "products, demo_rows are missing: run toolbox migrate")


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_tables_check_reads_the_tables_after_a_missing_one(make_toolbox: Any, database: str) -> None:
    """On PostgreSQL a failed statement aborts the transaction: the next table is still read."""
    from toolbox_core.api import tables_check
    from toolbox_core.catalog.models import Product

    toolbox = make_toolbox(database=database)
    check = tables_check(toolbox, "demo", "demo_rows", Product)
    assert check == Check("demo: tables", False, "demo_rows is missing: run toolbox migrate")
    assert "Traceback" not in check.message and "UndefinedTable" not in check.message


def test_tables_check_on_an_unreachable_database_names_the_error_kind() -> None:
    from toolbox_core.api import Toolbox, tables_check
    from toolbox_core.config import Settings

    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    toolbox = Toolbox.create(Settings(database_url=url, plugins=[]))
    try:
        check = tables_check(toolbox, "demo", "demo_rows")
    finally:
        toolbox.close()
    assert not check.ok and check.message.startswith("cannot read demo_rows: OperationalError")

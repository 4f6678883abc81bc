"""``toolbox doctor`` for BTS: the tables before and after ``toolbox migrate``, and what only warns."""

from __future__ import annotations

from typing import Any

from toolbox_core.testing import add_variant
from toolbox_core.testing.doctor import plugin_doctor_checks, toolbox_before_migrate


def by_name(toolbox: Any) -> dict[str, Any]:
    return {c.name: c for c in plugin_doctor_checks(toolbox, "bts")}


def test_after_migrate_every_check_is_ok(toolbox: Any) -> None:
    checks = by_name(toolbox)
    assert checks["bts: tables"].message == "bts_regions, bts_cities, bts_branches migrated"
    assert all(c.ok and not c.warning for c in checks.values()), checks
    assert {"bts: login", "bts: directory", "bts: sender city", "bts: variant weights", "bts: webhook"} <= set(checks)


def test_before_migrate_the_missing_tables_are_named_and_the_other_checks_still_run(
        toolbox: Any, bts_settings: dict[str, Any], tmp_path: Any) -> None:
    fresh = toolbox_before_migrate(toolbox.settings, {"bts": bts_settings}, tmp_path / "new.db")
    try:
        checks = by_name(fresh)
    finally:
        fresh.close()
    assert not checks["bts: tables"].ok
    assert checks["bts: tables"].message == ("bts_regions, bts_cities, bts_branches are missing: "
                                             "run toolbox migrate")
    assert checks["bts: login"].ok and checks["bts: webhook"].ok and checks["bts: variant weights"].ok
    assert checks["bts: directory"].warning and "not checked" in checks["bts: directory"].message
    assert not any("doctor check failed" in c.message for c in checks.values())
    assert [c.name for c in checks.values() if not c.ok] == ["bts: tables"]  # toolbox doctor exits 1 on it


def test_an_unset_optional_webhook_secret_and_unweighed_variants_only_warn(
        make_toolbox: Any, bts_settings: dict[str, Any]) -> None:
    tb = make_toolbox(plugins=["bts"], plugin_settings={"bts": {**bts_settings, "webhook_secret": None}})
    add_variant(tb, weight_grams=None)
    checks = by_name(tb)
    webhook, weights = checks["bts: webhook"], checks["bts: variant weights"]
    assert webhook.ok and webhook.warning and "TOOLBOX_BTS__WEBHOOK_SECRET" in webhook.message
    assert weights.ok and weights.warning and weights.message.startswith("1 variants have no weight")



def test_on_a_database_never_migrated_every_check_reports_instead_of_crashing(
        toolbox: Any, bts_settings: dict[str, Any], tmp_path: Any) -> None:
    """The login token goes to the database key store and the weights come from the catalog,
    whose tables ``toolbox migrate`` creates too."""
    from toolbox_core.api import Toolbox

    settings = toolbox.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
    fresh = Toolbox.create(settings, plugin_settings={"bts": bts_settings})
    try:
        checks = by_name(fresh)
    finally:
        fresh.close()
    assert [c.name for c in checks.values() if not c.ok] == ["bts: tables"]
    assert checks["bts: login"].warning and checks["bts: variant weights"].warning
    assert not any("doctor check failed" in c.message for c in checks.values())

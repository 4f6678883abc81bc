"""Operators: ``toolbox eskiz balance`` / ``test-sms`` and the ``toolbox doctor`` checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolbox_core.api import DoctorCheck

TOOLBOX = str(Path(sys.executable).with_name("toolbox"))


@pytest.fixture
def cli_env(eskiz_toolbox, eskiz_settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    env.update({"TOOLBOX_DATABASE_URL": eskiz_toolbox.settings.database_url, "TOOLBOX_PLUGINS": "eskiz",
                **{f"TOOLBOX_ESKIZ__{k.upper()}": str(v) for k, v in eskiz_settings.items()}})
    return env


def run(env, *args):
    return subprocess.run([TOOLBOX, *args], env=env, capture_output=True, text=True, timeout=60)


def test_balance_and_test_sms_commands(cli_env, fake_eskiz):
    balance = run(cli_env, "eskiz", "balance")
    assert balance.returncode == 0, balance.stderr
    assert f"Eskiz balance: {fake_eskiz.balance}" in balance.stdout

    sent = run(cli_env, "eskiz", "test-sms", "90 123 45 67", "--locale", "uz")
    assert sent.returncode == 0, sent.stderr
    assert "+998901234567" in sent.stdout
    assert [(m.phone, m.text) for m in fake_eskiz.messages] == [("998901234567", "Bu Eskiz dan test")]
    assert fake_eskiz.password not in balance.stdout + balance.stderr + sent.stdout + sent.stderr


def test_test_sms_refuses_a_bad_phone_and_balance_reports_bad_credentials(cli_env, fake_eskiz):
    bad = run(cli_env, "eskiz", "test-sms", "12345")
    assert bad.returncode == 2 and "error" in bad.stderr
    wrong = run({**cli_env, "TOOLBOX_ESKIZ__PASSWORD": "wrong"}, "eskiz", "balance")
    assert wrong.returncode == 1 and "API secret" in wrong.stderr and "wrong" not in wrong.stderr.replace("wrong e-mail", "")


def test_hook_doctor_checks_report_token_and_balance(eskiz_toolbox, fake_eskiz):
    from toolbox_eskiz.plugin import doctor_checks

    checks = {c.name: c for c in doctor_checks(eskiz_toolbox)}
    assert checks["eskiz token"].ok and checks["eskiz token"].message.startswith("valid for 29 more days")
    assert checks["eskiz balance"].ok
    assert checks["eskiz tables"] == DoctorCheck("eskiz tables", True, "eskiz_messages migrated")
    fake_eskiz.balance = 0
    assert not {c.name: c for c in doctor_checks(eskiz_toolbox)}["eskiz balance"].ok


def test_doctor_before_migrate_names_the_missing_table_and_still_checks_the_token(
        eskiz_toolbox, fake_eskiz, eskiz_settings, tmp_path):
    from toolbox_core.testing.doctor import plugin_doctor_checks, toolbox_before_migrate

    toolbox = toolbox_before_migrate(eskiz_toolbox.settings, {"eskiz": eskiz_settings}, tmp_path / "new.db")
    try:
        checks = {c.name: c for c in plugin_doctor_checks(toolbox, "eskiz")}
    finally:
        toolbox.close()
    assert checks["eskiz tables"] == DoctorCheck("eskiz tables", False,
                                                 "eskiz_messages is missing: run toolbox migrate")
    assert checks["eskiz token"].ok and checks["eskiz balance"].ok


def test_doctor_token_check_fails_clearly_on_wrong_credentials(make_toolbox, eskiz_settings):
    from toolbox_eskiz.plugin import doctor_checks

    toolbox = make_toolbox(plugins=["eskiz"], plugin_settings={"eskiz": {**eskiz_settings, "password": "nope"}})
    tables, check = doctor_checks(toolbox)
    assert tables.ok and tables.message == "eskiz_messages migrated"
    assert not check.ok and "TOOLBOX_ESKIZ__PASSWORD" in check.message and "nope" not in check.message


def test_doctor_on_a_database_never_migrated_reports_instead_of_crashing(eskiz_toolbox, eskiz_settings, tmp_path):
    """The token lives in the database key store, whose table ``toolbox migrate`` creates too."""
    from toolbox_core.api import Toolbox
    from toolbox_core.testing.doctor import plugin_doctor_checks

    settings = eskiz_toolbox.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
    toolbox = Toolbox.create(settings, plugin_settings={"eskiz": eskiz_settings})
    try:
        checks = {c.name: c for c in plugin_doctor_checks(toolbox, "eskiz")}
    finally:
        toolbox.close()
    assert not checks["eskiz tables"].ok and "eskiz_messages is missing" in checks["eskiz tables"].message
    assert checks["eskiz token"].warning and "toolbox migrate" in checks["eskiz token"].message
    assert not any("doctor check failed" in c.message for c in checks.values())

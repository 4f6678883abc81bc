"""The test kit (``toolbox_core.testing``) that plugin authors and the kernel's own tests use."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from toolbox_core.api import DoctorCheck, PermanentFailure, RetryLater
from toolbox_core.app import create_app
from toolbox_core.doctor import plugin_checks

CHECKED_PLUGIN = """
from pydantic import BaseModel, SecretStr
from toolbox_core.api import DoctorCheck, hookimpl
KERNEL_API = ">=1.1,<2"

class CheckedSettings(BaseModel):
    token: SecretStr
    region: str = "tashkent"

@hookimpl
def settings_model():
    return CheckedSettings

@hookimpl
def doctor_checks(toolbox):
    settings = toolbox.plugin_settings("checked")
    return [DoctorCheck("checked.region", settings.region != "", f"region {settings.region}")]
"""

BROKEN_CHECK_PLUGIN = """
from toolbox_core.api import hookimpl
KERNEL_API = ">=1.1,<2"

@hookimpl
async def doctor_checks(toolbox):
    raise RuntimeError("gateway said no")
"""


def test_make_toolbox_enables_plugins_with_the_settings_given(make_toolbox, plugin_site) -> None:
    plugin_site.install("checked", CHECKED_PLUGIN)
    toolbox = make_toolbox(["checked"], {"checked": {"token": "s3cret", "region": "samarkand"}})
    settings = toolbox.plugin_settings("checked")
    assert settings.region == "samarkand"
    assert settings.token.get_secret_value() == "s3cret"
    assert toolbox.plugins.plugins["checked"].enabled


def test_hook_doctor_checks_of_plugins_are_reported_and_a_failing_one_is_a_failed_check(
        make_toolbox, plugin_site) -> None:
    plugin_site.install("checked", CHECKED_PLUGIN)
    plugin_site.install("brokencheck", BROKEN_CHECK_PLUGIN)
    toolbox = make_toolbox(["checked", "brokencheck"], {"checked": {"token": "x"}})
    checks = {c.name: c for c in plugin_checks(toolbox)}
    assert checks["checked.region"] == DoctorCheck("checked.region", True, "region tashkent")
    assert checks["brokencheck"].ok is False
    assert "RuntimeError: gateway said no" in checks["brokencheck"].message


def test_serve_fake_serves_an_asgi_app_over_real_http(serve_fake) -> None:
    fake = FastAPI()

    @fake.post("/echo")
    async def echo(body: dict) -> dict:
        return {"got": body}

    url = serve_fake(fake)
    assert url.startswith("http://127.0.0.1:")
    response = httpx.post(f"{url}/echo", json={"a": 1}, timeout=5)
    assert response.json() == {"got": {"a": 1}}


def test_the_store_itself_can_be_served_over_real_http(make_toolbox, serve_fake) -> None:
    url = serve_fake(create_app(toolbox=make_toolbox()))
    response = httpx.get(f"{url}/health", timeout=5)
    assert response.status_code == 200


@pytest.mark.postgres
def test_make_toolbox_on_postgres_gets_an_empty_migrated_database(make_toolbox) -> None:
    toolbox = make_toolbox(database="postgres")
    assert toolbox.db.engine.dialect.name == "postgresql"
    with toolbox.db.session() as session:
        from sqlalchemy import text

        assert session.execute(text("SELECT count(*) FROM orders")).scalar() == 0


def test_failure_kinds_carry_their_reason_and_delay() -> None:
    assert PermanentFailure("text not approved").reason == "text not approved"
    later = RetryLater("429 from gateway", after=2.5)
    assert (later.reason, later.after) == ("429 from gateway", 2.5)
    assert RetryLater().after is None


def test_the_kit_is_registered_as_a_pytest_plugin() -> None:
    from importlib.metadata import entry_points

    names = {ep.value for ep in entry_points(group="pytest11")}
    assert "toolbox_core.testing.plugin" in names
    assert Path(__file__).exists()

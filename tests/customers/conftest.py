"""Fixtures for the customers domain: an app wired with a recording SMS sender."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fakes.otp import RecordingSender, RecordingSenderPlugin
from toolbox_core.app import create_app
from toolbox_core.config import Settings
from toolbox_core.kernel import Toolbox

PHONE = "+998901234567"


@pytest.fixture
def sms() -> RecordingSender:
    return RecordingSender()


def build_toolbox(settings: Settings, sms: RecordingSender | None, **auth: Any) -> Toolbox:
    """A toolbox on ``settings`` whose OTP sender is ``sms`` (unless ``otp_sender`` is given)."""
    auth = {"otp_sender": "recording", **auth}
    settings = settings.model_copy(update={"auth": settings.auth.model_copy(update=auth)})
    toolbox = Toolbox.create(settings, wire=False)
    if sms is not None:
        toolbox.plugins.pm.register(RecordingSenderPlugin(sms), name="test.recording_sms")
    toolbox.wire()
    return toolbox


@pytest.fixture
def make_client(settings: Settings, sms: RecordingSender) -> Iterator[Callable[..., TestClient]]:
    """``make_client(redis_url=None, database_url=None, debug=False, **auth_overrides)``."""
    opened: list[tuple[TestClient, Toolbox]] = []

    def make(*, redis_url: str | None = None, database_url: str | None = None, debug: bool = False, **auth: Any) -> TestClient:
        base = settings.model_copy(
            update={"redis_url": redis_url, "database_url": database_url or settings.database_url, "debug": debug}
        )
        toolbox = build_toolbox(base, sms, **auth)
        client = TestClient(create_app(toolbox=toolbox))
        client.__enter__()
        opened.append((client, toolbox))
        return client

    yield make
    for client, toolbox in opened:
        client.__exit__(None, None, None)
        toolbox.close()


@pytest.fixture
def api(make_client: Callable[..., TestClient]) -> TestClient:
    """The app on embedded settings (database key store)."""
    return make_client()


def sign_in(client: TestClient, sms: RecordingSender, phone: str = PHONE, **body: Any) -> dict[str, Any]:
    """Request a code, verify it and auto-register; returns the session body."""
    token = verify(client, sms, phone)
    response = client.post("/store/customers/auto-register", json={"verification_token": token, **body})
    assert response.status_code == 200, response.text
    return response.json()


def verify(client: TestClient, sms: RecordingSender, phone: str = PHONE) -> str:
    assert client.post("/store/otp/request", json={"phone": phone}).status_code == 200
    response = client.post("/store/otp/verify", json={"phone": phone, "code": sms.last_code(phone)})
    assert response.status_code == 200, response.text
    return response.json()["verification_token"]

"""Fixtures: a fake Eskiz over real HTTP and a toolbox with the eskiz plugin pointed at it."""

from __future__ import annotations

from typing import Any

import pytest
from eskiz_helpers import CALLBACK_TOKEN

from tests.fakes.eskiz import FakeEskiz


@pytest.fixture
def fake_eskiz() -> FakeEskiz:
    return FakeEskiz()


@pytest.fixture
def eskiz_url(fake_eskiz: FakeEskiz, serve_fake: Any) -> str:
    return serve_fake(fake_eskiz.app) + "/api"


@pytest.fixture
def eskiz_settings(eskiz_url: str, fake_eskiz: FakeEskiz) -> dict[str, Any]:
    return {"email": fake_eskiz.email, "password": fake_eskiz.password, "base_url": eskiz_url,
            "timeout_seconds": 5, "callback_token": CALLBACK_TOKEN}


@pytest.fixture
def eskiz_toolbox(make_toolbox: Any, eskiz_settings: dict[str, Any]) -> Any:
    """A migrated SQLite toolbox with eskiz enabled, its OTP sender and its channel."""
    return make_toolbox(plugins=["eskiz"], plugin_settings={"eskiz": eskiz_settings},
                        auth={"otp_sender": "eskiz"})

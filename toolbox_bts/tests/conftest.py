"""Fixtures of the BTS plugin tests: a fake BTS over real HTTP and a store with the plugin enabled."""

from __future__ import annotations

from typing import Any

import pytest
from bts_helpers import WEBHOOK_SECRET

from tests.fakes.bts import LOGIN, PASSWORD, FakeBtsState, create_fake_bts
from toolbox_bts import directory


@pytest.fixture
def bts(serve_fake: Any) -> FakeBtsState:
    """The fake BTS API, served on loopback (``bts.base_url``)."""
    app, state = create_fake_bts()
    state.base_url = serve_fake(app)
    return state


@pytest.fixture
def bts_settings(bts: FakeBtsState) -> dict[str, Any]:
    return {"base_url": bts.base_url, "login": LOGIN, "password": PASSWORD, "sender_city_code": "1000",
            "sender_name": "Test Shop", "sender_phone": "+998711234567", "sender_address": "Nurafshon, 5",
            "webhook_secret": WEBHOOK_SECRET, "timeout_seconds": 3, "calculator_backoff_seconds": 0}


@pytest.fixture
def toolbox(make_toolbox: Any, bts_settings: dict[str, Any]) -> Any:
    """The store with the ``bts`` plugin enabled and the BTS directory synced (overrides the kit's)."""
    tb = make_toolbox(plugins=["bts"], plugin_settings={"bts": bts_settings})
    directory.sync(tb, tb.shipping_providers["bts"].client)
    return tb


@pytest.fixture
def provider(toolbox: Any) -> Any:
    return toolbox.shipping_providers["bts"]

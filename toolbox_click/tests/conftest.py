"""Fixtures of the Click plugin's tests (helpers are in ``click_testkit``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from click_testkit import (
    MERCHANT_USER_ID,
    SECRET,
    SERVICE_ID,
    ClickSide,
    Store,
    click_settings,
)

from tests.fakes.click import FakeClick
from toolbox_core.testing.shop import store_app


@pytest.fixture
def fake_click() -> FakeClick:
    return FakeClick(service_id=SERVICE_ID, merchant_user_id=MERCHANT_USER_ID, secret_key=SECRET)


@pytest.fixture
def make_store(make_toolbox: Callable[..., Any], serve_fake: Callable[..., str],
               fake_click: FakeClick) -> Callable[..., Store]:
    """Factory: a served store with ``click`` enabled, its Merchant API pointed at the fake."""

    def factory(database: str = "sqlite", **settings: Any) -> Store:
        api_url = serve_fake(fake_click.app) + "/v2/merchant/"
        toolbox = make_toolbox(["click"], {"click": click_settings(api_url, **settings)}, database=database,
                               storefront_origins=["https://shop.example"])
        url = serve_fake(store_app(toolbox))
        http = httpx.Client(timeout=30)
        return Store(toolbox, url, http, ClickSide(url, http))

    return factory


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()

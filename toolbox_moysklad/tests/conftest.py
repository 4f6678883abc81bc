"""Fixtures of the MoySklad plugin tests: the fake MoySklad over real HTTP and a store on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.fakes.moysklad import API_PREFIX, FakeMoySklad
from toolbox_core.api import Toolbox
from toolbox_core.testing.services import fresh_pg_database


@pytest.fixture
def fake() -> FakeMoySklad:
    return FakeMoySklad(rate_limited=True)


@pytest.fixture
def fake_url(fake: FakeMoySklad, serve_fake: Callable[..., str]) -> str:
    return serve_fake(fake) + API_PREFIX


@pytest.fixture
def store(make_toolbox: Callable[..., Any], fake_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``store(**moysklad_settings, database=..., redis=...)``: a toolbox with the plugin on the fake.

    ``database="postgres"`` gets a PostgreSQL database of its own (not the session's shared one,
    which other plugins' tests migrate with other branches).
    """
    made: list[Any] = []
    with ExitStack() as stack:

        def build(*, database: str = "sqlite", redis: bool = False, **settings: Any) -> Any:
            values = {"token": "tok-initial", "base_url": fake_url, "webhook_token": "hook-secret",
                      "public_url": "http://127.0.0.1:1"} | settings
            if database != "postgres":
                return make_toolbox(plugins=["moysklad"], plugin_settings={"moysklad": values},
                                    database=database, redis=redis)
            request.getfixturevalue("clean_env")
            env = request.getfixturevalue("monkeypatch")
            env.setenv("TOOLBOX_DATABASE_URL", stack.enter_context(fresh_pg_database()))
            env.setenv("TOOLBOX_PLUGINS", "moysklad")
            if redis:
                env.setenv("TOOLBOX_REDIS_URL", request.getfixturevalue("redis_clean"))
            toolbox = Toolbox.create(plugin_settings={"moysklad": values})
            toolbox.migrate()
            made.append(toolbox)
            return toolbox

        yield build
        for toolbox in made:
            toolbox.close()

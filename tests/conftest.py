"""Shared fixtures.

Backing services: PostgreSQL and Redis are used over real connections. When one is missing the
tests that need it are skipped on a developer machine, but FAIL when ``CI`` or
``TOOLBOX_TEST_REQUIRE_SERVICES`` is set, so CI can never go green without them.

Isolation: each test session gets its own PostgreSQL database and its own Redis database
number, so several test runs on one machine never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolbox_core.config import Settings

PG_ADMIN_URL = os.environ.get("TOOLBOX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("TOOLBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REQUIRE_SERVICES = bool(os.environ.get("CI") or os.environ.get("TOOLBOX_TEST_REQUIRE_SERVICES"))


def service_missing(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; CI requires it: start it (see .ci/run)", pytrace=False)
    pytest.skip(message)


# ------------------------------------------------------------------------------ PostgreSQL
@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session (dropped at the end)."""
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        service_missing("PostgreSQL", exc)
    name = f"toolbox_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_database_url: str) -> str:
    """The session's PostgreSQL database, migrated to head once."""
    from toolbox_core.kernel import Toolbox

    toolbox = Toolbox.create(Settings(database_url=pg_database_url, plugins=[]))
    toolbox.migrate()
    toolbox.close()
    return pg_database_url


def truncate_all(url: str) -> None:
    """Empty every kernel table (keeps the schema); used between PostgreSQL tests."""
    from sqlalchemy import create_engine, text

    import toolbox_core.models  # noqa: F401
    from toolbox_core.db.base import Base

    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def pg_url(pg_migrated_url: str) -> str:
    """A migrated, empty PostgreSQL database for one test."""
    truncate_all(pg_migrated_url)
    return pg_migrated_url


# ------------------------------------------------------------------------------ Redis
@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL on a database number claimed by this test session and flushed before use."""
    import redis

    try:
        control = redis.Redis.from_url(f"{REDIS_BASE_URL}/0", socket_connect_timeout=2)
        control.ping()
    except Exception as exc:
        service_missing("Redis", exc)
    token = uuid.uuid4().hex
    for number in range(1, 16):
        if control.set(f"toolbox-test-claim:{number}", token, nx=True, ex=3600):
            break
    else:  # pragma: no cover
        pytest.fail("no free Redis database number for this test session")
    url = f"{REDIS_BASE_URL}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
        if control.get(f"toolbox-test-claim:{number}") == token.encode():
            control.delete(f"toolbox-test-claim:{number}")
        control.close()


@pytest.fixture
def redis_clean(redis_url: str) -> str:
    """The session's Redis database, flushed for this test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


# ------------------------------------------------------------------------------ SQLite
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests get copies of it."""
    from toolbox_core.kernel import Toolbox

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    toolbox = Toolbox.create(Settings(database_url=f"sqlite:///{path}", plugins=[]))
    toolbox.migrate()
    toolbox.close()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated, empty SQLite database file for one test."""
    path = tmp_path / "toolbox.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TOOLBOX_* variables from the outside and an empty working folder."""
    for key in list(os.environ):
        if key.startswith("TOOLBOX_") and not key.startswith("TOOLBOX_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path, clean_env: Path) -> Settings:
    """Embedded-mode settings on a fresh migrated SQLite database."""
    return Settings(
        database_url=sqlite_url,
        plugins=[],
        storage={"backend": "local", "local_path": str(tmp_path / "media")},
    )


@pytest.fixture
def toolbox(settings: Settings) -> Iterator[object]:
    from toolbox_core.kernel import Toolbox

    tb = Toolbox.create(settings)
    yield tb
    tb.close()


@pytest.fixture
def client(toolbox: object) -> Iterator[object]:
    """An HTTP client for the app on embedded settings (lifespan run)."""
    from fastapi.testclient import TestClient

    from toolbox_core.app import create_app

    with TestClient(create_app(toolbox=toolbox)) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture
def plugin_site(tmp_path: Path) -> Iterator[object]:
    """A fake site-packages folder: ``plugin_site.install(name, source)`` installs a plugin."""
    from tests.fakes.plugins import fake_site

    with fake_site(tmp_path / "site") as site:
        yield site

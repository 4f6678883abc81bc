"""The pytest plugin of the test kit (entry point ``pytest11: toolbox``). See :mod:`toolbox_core.testing`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from toolbox_core.config import Settings
from toolbox_core.testing.contracts import outside_calls  # noqa: F401 - a fixture of the kit
from toolbox_core.testing.http import ServedApp
from toolbox_core.testing.services import (
    claimed_redis_database,
    flush_redis,
    fresh_pg_database,
    truncate_all,
)


# ------------------------------------------------------------------------------ PostgreSQL
@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session (dropped at the end)."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def pg_migrated_url(pg_database_url: str) -> str:
    """The session's PostgreSQL database, the kernel migrated to head once."""
    from toolbox_core.kernel import Toolbox

    toolbox = Toolbox.create(Settings(database_url=pg_database_url, plugins=[]))
    toolbox.migrate()
    toolbox.close()
    return pg_database_url


class _PgPluginDatabases:
    """One PostgreSQL database per set of enabled plugins, created on first use, emptied per test."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.urls: dict[tuple[str, ...], str] = {}

    def get(self, plugins: tuple[str, ...]) -> tuple[str, bool]:
        """The database for ``plugins`` and whether it was just created (so not migrated yet)."""
        if plugins not in self.urls:
            self.urls[plugins] = self.stack.enter_context(fresh_pg_database())
            return self.urls[plugins], True
        truncate_all(self.urls[plugins])
        return self.urls[plugins], False


@pytest.fixture(scope="session")
def _pg_plugin_databases() -> Iterator[_PgPluginDatabases]:
    with ExitStack() as stack:
        yield _PgPluginDatabases(stack)


@pytest.fixture
def pg_url(pg_migrated_url: str) -> str:
    """A migrated PostgreSQL database with every table emptied, for one test."""
    truncate_all(pg_migrated_url)
    return pg_migrated_url


# ------------------------------------------------------------------------------ Redis
@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL on a database number claimed by this test session and flushed before use."""
    with claimed_redis_database() as url:
        yield url


@pytest.fixture
def redis_clean(redis_url: str) -> str:
    """The session's Redis database, flushed for this test."""
    flush_redis(redis_url)
    return redis_url


# ------------------------------------------------------------------------------ SQLite
class _SqliteTemplates:
    """SQLite files migrated once per set of enabled plugins; tests get copies of them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[tuple[str, ...], Path] = {}

    def get(self, plugins: tuple[str, ...], plugin_settings: dict[str, dict[str, Any]] | None) -> Path:
        from toolbox_core.kernel import Toolbox

        if plugins not in self.files:
            path = self.folder / f"template-{len(self.files)}.db"
            toolbox = Toolbox.create(Settings(database_url=f"sqlite:///{path}", plugins=list(plugins)),
                                     plugin_settings=plugin_settings, wire=False)
            toolbox.migrate()
            toolbox.close()
            self.files[plugins] = path
        return self.files[plugins]


@pytest.fixture(scope="session")
def _sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> _SqliteTemplates:
    return _SqliteTemplates(tmp_path_factory.mktemp("sqlite-templates"))


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_templates: _SqliteTemplates) -> str:
    """A migrated, empty SQLite database file (kernel tables) for one test."""
    path = tmp_path / "toolbox.db"
    shutil.copyfile(_sqlite_templates.get((), None), path)
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
def toolbox(settings: Settings) -> Iterator[Any]:
    """A kernel on :func:`settings` (no plugins enabled)."""
    from toolbox_core.kernel import Toolbox

    tb = Toolbox.create(settings)
    yield tb
    tb.close()


@pytest.fixture
def client(toolbox: Any) -> Iterator[Any]:
    """An in-process HTTP client (``TestClient``) for the app on :func:`toolbox` (lifespan run)."""
    from fastapi.testclient import TestClient

    from toolbox_core.app import create_app

    with TestClient(create_app(toolbox=toolbox)) as c:
        yield c


# ------------------------------------------------------------------------------ factories
MakeToolbox = Callable[..., Any]


@pytest.fixture
def make_toolbox(request: pytest.FixtureRequest, tmp_path: Path, clean_env: Path,
                 _sqlite_templates: _SqliteTemplates) -> Iterator[MakeToolbox]:
    """Factory: a migrated toolbox with chosen plugins enabled and their settings given.

    ``make_toolbox(plugins=["payme"], plugin_settings={"payme": {"merchant_id": "m"}},
    database="sqlite" | "postgres", redis=False, **kernel_settings)``. ``plugin_settings``
    stands in for the plugin's environment/TOML section. With ``redis=True`` the session's
    Redis database is flushed and used (key store, broker, rate limits, as in production).
    Every toolbox made is closed at the end of the test.
    """
    made: list[Any] = []

    def factory(plugins: Iterable[str] = (), plugin_settings: dict[str, dict[str, Any]] | None = None, *,
                database: str = "sqlite", redis: bool = False, **overrides: Any) -> Any:
        from toolbox_core.kernel import Toolbox

        names = tuple(plugins)
        migrate = False  # the copies and shared databases below are migrated already
        if database == "sqlite":
            path = tmp_path / f"toolbox-{len(made)}.db"
            shutil.copyfile(_sqlite_templates.get(names, plugin_settings), path)
            url = f"sqlite:///{path}"
        elif database == "postgres":
            # The kernel-only database is shared by the session; each set of plugins gets its
            # own, so a plugin's Alembic branch never leaks into tests run without the plugin.
            if names:
                url, migrate = request.getfixturevalue("_pg_plugin_databases").get(names)
            else:
                url = request.getfixturevalue("pg_url")
        else:
            raise ValueError("database must be 'sqlite' or 'postgres'")
        values: dict[str, Any] = {
            "database_url": url, "plugins": list(names),
            "storage": {"backend": "local", "local_path": str(tmp_path / "media")},
        }
        if redis:
            values["redis_url"] = request.getfixturevalue("redis_clean")
        values.update(overrides)
        toolbox = Toolbox.create(Settings(**values), plugin_settings=plugin_settings)
        if migrate or "database_url" in overrides:
            toolbox.migrate()
        made.append(toolbox)
        return toolbox

    yield factory
    for toolbox in reversed(made):
        toolbox.close()


@pytest.fixture
def serve_fake() -> Iterator[Callable[..., str]]:
    """Factory: ``url = serve_fake(app)`` serves an ASGI app over real HTTP on 127.0.0.1.

    Use it for fakes of outside services (written to their published protocol) and for the
    store itself (``serve_fake(create_app(toolbox=toolbox))``) when a test must go through
    real sockets. Servers stop at the end of the test.
    """
    served: list[ServedApp] = []

    def factory(app: Any, **kwargs: Any) -> str:
        server = ServedApp(app, **kwargs).start()
        served.append(server)
        return server.url

    yield factory
    for server in reversed(served):
        server.stop()


# ------------------------------------------------------------------------------ observing
@pytest.fixture
def capture_events() -> Callable[[Any], Any]:
    """Factory: ``events = capture_events(toolbox)``, then ``events.names()``, ``events.of(name)``,
    ``events.one(name)`` — the events committed since (see :class:`CapturedEvents`)."""
    from toolbox_core.testing.observe import CapturedEvents

    return CapturedEvents


@pytest.fixture
def start_worker() -> Iterator[Callable[..., Any]]:
    """Factory: ``worker = start_worker(toolbox, threads=2)`` runs in-process workers and the
    relay in the background (as ``toolbox serve`` does) until the end of the test;
    ``worker.drain()`` waits for every committed event to be delivered. For a test that wants
    no threads, call ``toolbox.events.drain()`` instead: it delivers in the calling thread."""
    from toolbox_core.testing.observe import RunningWorker

    running: list[RunningWorker] = []

    def factory(toolbox: Any, threads: int = 2) -> RunningWorker:
        worker = RunningWorker(toolbox, threads)
        running.append(worker)
        return worker

    yield factory
    for worker in reversed(running):
        worker.stop()


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """Factory: ``client = make_client(toolbox)`` — a ``TestClient`` on the app of that toolbox
    (its plugins' routes mounted, lifespan run); closed at the end of the test."""
    from fastapi.testclient import TestClient

    from toolbox_core.app import create_app

    clients: list[Any] = []

    def factory(toolbox: Any, **kwargs: Any) -> Any:
        client = TestClient(create_app(toolbox=toolbox), **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in reversed(clients):
        client.__exit__(None, None, None)

"""PostgreSQL and Redis for tests: one database (or database number) per test session.

When a service is missing, tests that need it are skipped on a developer machine but FAIL
when ``CI`` or ``TOOLBOX_TEST_REQUIRE_SERVICES`` is set, so CI can never go green without them.
Override the servers with ``TOOLBOX_TEST_PG_URL`` and ``TOOLBOX_TEST_REDIS_URL``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get("TOOLBOX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("TOOLBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REQUIRE_SERVICES = bool(os.environ.get("CI") or os.environ.get("TOOLBOX_TEST_REQUIRE_SERVICES"))


def service_missing(what: str, exc: BaseException) -> None:
    """Skip (developer machine) or fail (CI) the current test because ``what`` is unreachable."""
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; CI requires it: start it (see .ci/run)", pytrace=False)
    pytest.skip(message)


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create an empty PostgreSQL database for the block and drop it afterwards; yields its URL."""
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
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def truncate_all(url: str) -> None:
    """Empty every table of the database (kernel's and plugins'), keeping the schema and Alembic's record."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        names = [row[0] for row in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        ))]
        if names:
            conn.execute(text(f"TRUNCATE {', '.join(chr(34) + n + chr(34) for n in names)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@contextmanager
def claimed_redis_database() -> Iterator[str]:
    """A Redis URL on a database number claimed for the block, flushed before and after."""
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


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()

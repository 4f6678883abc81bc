"""``greatest``: one construct, PostgreSQL's ``greatest`` and SQLite's many-argument ``max``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import literal, select
from sqlalchemy.dialects import postgresql, sqlite

from toolbox_core.db import Database
from toolbox_core.db.functions import greatest


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    database = Database(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    yield database
    database.dispose()


def test_greatest_is_the_largest_of_its_arguments_on_every_database(db):
    with db.session() as session:
        assert session.scalar(select(greatest(literal(3) - 5, 0))) == 0
        assert session.scalar(select(greatest(literal(7) - 5, 0))) == 2
        assert session.scalar(select(greatest(literal(1), 4, 2))) == 4


def test_greatest_is_spelled_max_on_sqlite_only():
    expression = greatest(literal(1), 2)
    assert str(expression.compile(dialect=postgresql.dialect())).startswith("greatest(")
    assert str(expression.compile(dialect=sqlite.dialect())).startswith("max(")

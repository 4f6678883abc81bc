"""``greatest`` (PostgreSQL's ``greatest``, SQLite's many-argument ``max``) and ``insert_select``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from toolbox_core.db import Database
from toolbox_core.db.sql import greatest, insert_select


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


def test_insert_select_writes_one_row_per_source_row_and_leaves_the_rest_to_the_server(db):
    meta = MetaData()
    probe = Table("insert_select_probe", meta, Column("id", Integer, primary_key=True),
                  Column("label", String(20), nullable=False),
                  Column("note", String(20), default="python default", server_default="server default"))
    meta.create_all(db.engine)
    try:
        source = select(literal(5).label("n")).cte("source")
        with db.transaction() as session:
            session.execute(insert_select(probe, [{"id": source.c.n, "label": literal("five")}], source))
        with db.session() as session:
            assert session.execute(select(probe)).all() == [(5, "five", "server default")]
    finally:
        meta.drop_all(db.engine)


def test_insert_select_of_several_rows_is_one_statement_sqlalchemy_caches(db):
    meta = MetaData()
    probe = Table("insert_rows_probe", meta, Column("id", Integer, primary_key=True), Column("label", String(20)))
    meta.create_all(db.engine)
    try:
        rows = [{"id": bindparam(f"r{n}_id", type_=Integer), "label": bindparam(f"r{n}_label", type_=String)}
                for n in range(2)]
        statement = insert_select(probe, rows)
        assert statement._generate_cache_key() is not None  # compiled once, not at every run
        with db.transaction() as session:
            session.execute(statement, {"r0_id": 1, "r0_label": "one", "r1_id": 2, "r1_label": "two"})
        with db.session() as session:
            assert session.execute(select(probe).order_by(probe.c.id)).all() == [(1, "one"), (2, "two")]
    finally:
        meta.drop_all(db.engine)

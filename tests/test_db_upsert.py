"""``upsert`` / ``insert_ignoring``: one call gives each dialect its own ``INSERT ... ON CONFLICT``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from toolbox_core.db import Database
from toolbox_core.db.upsert import dialect_insert, insert_ignoring, upsert

_META = MetaData()
PROBE = Table(
    "upsert_probe", _META,
    Column("name", String(20), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("label", String(20), unique=True),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A database (SQLite, PostgreSQL) with the scratch table ``upsert_probe``."""
    database = Database(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    _META.create_all(database.engine)
    yield database
    _META.drop_all(database.engine)
    database.dispose()


def rows(db: Database) -> list[tuple[str, int, str | None]]:
    with db.session() as session:
        return [tuple(row) for row in session.execute(select(PROBE).order_by(PROBE.c.name))]


def test_upsert_inserts_then_updates_from_the_existing_row(db):
    def bump(session, value: int) -> int:
        stmt = upsert(session.get_bind().dialect, PROBE, {"name": "hits", "value": value},
                      conflict=[PROBE.c.name], update={"value": PROBE.c.value + value})
        return session.execute(stmt.returning(PROBE.c.value)).scalar_one()

    with db.transaction() as session:
        assert [bump(session, 2), bump(session, 3)] == [2, 5]
    assert rows(db) == [("hits", 5, None)]


def test_upsert_with_column_names_takes_the_new_rows_values_also_for_many_rows(db):
    dialect = db.engine.dialect.name
    stmt = upsert(dialect, PROBE, conflict=["name"], update=["value"])
    with db.transaction() as session:
        session.execute(stmt, [{"name": "a", "value": 1, "label": "x"}, {"name": "b", "value": 2, "label": "y"}])
        session.execute(stmt, [{"name": "a", "value": 10, "label": "z"}, {"name": "c", "value": 3, "label": None}])
    assert rows(db) == [("a", 10, "x"), ("b", 2, "y"), ("c", 3, None)], "only the named columns change"
    many = upsert(dialect, PROBE, [{"name": "b", "value": 20}, {"name": "d", "value": 4}],  # one multi-row VALUES
                  conflict=["name"], update=["value"])
    with db.transaction() as session:
        assert sorted(session.execute(many.returning(PROBE.c.value)).scalars()) == [4, 20]
    assert rows(db)[1:] == [("b", 20, "y"), ("c", 3, None), ("d", 4, None)]


def test_upsert_where_leaves_a_row_it_does_not_hold_for_alone(db):
    def set_if_higher(value: int) -> int | None:
        stmt = upsert(db.engine.dialect, PROBE, {"name": "max", "value": value}, conflict=["name"],
                      update=["value"], where=PROBE.c.value < value)
        with db.transaction() as session:
            return session.execute(stmt.returning(PROBE.c.value)).scalar()

    assert [set_if_higher(5), set_if_higher(3), set_if_higher(8)] == [5, None, 8]
    assert rows(db) == [("max", 8, None)]


def test_insert_ignoring_keeps_the_first_row(db):
    def add(name: str, value: int, label: str) -> str | None:
        stmt = insert_ignoring(db.engine.dialect.name, PROBE, {"name": name, "value": value, "label": label},
                               conflict=[PROBE.c.name])
        with db.transaction() as session:
            return session.execute(stmt.returning(PROBE.c.name)).scalar()

    assert [add("k", 1, "one"), add("k", 2, "two")] == ["k", None]
    assert rows(db) == [("k", 1, "one")]


def test_insert_ignoring_without_a_target_ignores_any_unique_clash(db):
    stmt = insert_ignoring(db.engine.dialect, PROBE)
    with db.transaction() as session:
        session.execute(stmt, [{"name": "a", "value": 1, "label": "x"}, {"name": "b", "value": 2, "label": "y"}])
        assert session.execute(stmt.values(name="d", value=4, label="w")).rowcount == 1
        clash = session.execute(stmt.values(name="c", value=3, label="x"))  # label is unique too
        assert clash.rowcount == 0
    assert rows(db) == [("a", 1, "x"), ("b", 2, "y"), ("d", 4, "w")]


def test_only_sqlite_and_postgresql_have_it():
    assert isinstance(dialect_insert("postgresql", PROBE), postgresql.Insert)
    assert isinstance(dialect_insert(sqlite.dialect(), PROBE), sqlite.Insert)
    with pytest.raises(ValueError, match="'mysql'"):
        upsert(mysql.dialect(), PROBE, {"name": "a", "value": 1}, conflict=["name"], update=["value"])
    with pytest.raises(ValueError, match="'oracle'"):
        insert_ignoring("oracle", PROBE)

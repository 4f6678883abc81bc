"""``db.fast.execute``: a hot statement straight to psycopg answers as ``conn.execute`` does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from toolbox_core.db import fast
from toolbox_core.db.base import Tiyin
from toolbox_core.db.engine import Database

_META = MetaData()
_THINGS = Table(
    "fast_test_things", _META,
    Column("id", String(20), primary_key=True),
    Column("price", Tiyin, nullable=False),
    Column("data", JSON),
    Column("status", String(10), nullable=False),
    Column("at", DateTime(timezone=True)),
)
_AT = datetime(2026, 12, 6, 12, 30, tzinfo=UTC)

_INSERT = insert(_THINGS)
_BY_STATUS = (select(_THINGS.c.id, _THINGS.c.price, _THINGS.c.data, _THINGS.c.at, literal("x").label("kind"))
              .where(_THINGS.c.status == "open", _THINGS.c.price >= bindparam("least", type_=Tiyin))
              .order_by(_THINGS.c.id))
_RAISE = (update(_THINGS).where(_THINGS.c.id == bindparam("b_id"))
          .values(price=_THINGS.c.price + bindparam("b_by", type_=Tiyin)).returning(_THINGS.c.price))
_COUNT_IN = select(func.count()).where(_THINGS.c.id == func.any(bindparam("ids", type_=None)))


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url, pool_size=1)
    _META.drop_all(database.engine)
    _META.create_all(database.engine)
    with database.statements() as conn:
        for n, (status, price) in enumerate([("open", 10**11), ("open", 5), ("closed", 7)]):
            fast.execute(conn, _INSERT, {"id": f"t{n}", "price": price, "data": {"n": n, "ru": "шт"},
                                         "status": status, "at": _AT})
    yield database
    _META.drop_all(database.engine)
    database.dispose()


def _both(conn, statement, params):
    """(fast rows as tuples, SQLAlchemy rows as tuples, fast keys, SQLAlchemy keys)."""
    quick = fast.execute(conn, statement, params).all()
    usual = conn.execute(statement, params)
    return [tuple(r) for r in quick], [tuple(r) for r in usual.all()], list(quick[0]._fields), list(usual.keys())


def test_a_select_answers_the_same_rows_and_names_as_through_sqlalchemy(db):
    with db.statements() as conn:
        quick, usual, quick_keys, usual_keys = _both(conn, _BY_STATUS, {"least": 1})
    assert quick == usual == [("t0", 10**11, {"n": 0, "ru": "шт"}, _AT, "x"), ("t1", 5, {"n": 1, "ru": "шт"}, _AT, "x")]
    assert quick_keys == usual_keys == ["id", "price", "data", "at", "kind"]


def test_rows_are_read_by_name_and_by_position(db):
    with db.statements() as conn:
        row = fast.execute(conn, _BY_STATUS, {"least": 6}).one()
    assert (row.id, row.price, row[0]) == ("t0", 10**11, "t0")


def test_the_statements_own_values_are_bound_and_a_missing_parameter_is_refused(db):
    with db.statements() as conn:
        assert [r.id for r in fast.execute(conn, _BY_STATUS, {"least": 0})] == ["t0", "t1"]  # not "closed"
        with pytest.raises(KeyError, match="least"):
            fast.execute(conn, _BY_STATUS, {})


def test_an_update_returning_writes_and_counts(db):
    with db.statements() as conn:
        result = fast.execute(conn, _RAISE, {"b_id": "t1", "b_by": 3})
        assert (result.scalar_one(), result.rowcount) == (8, 1)
        assert fast.execute(conn, _RAISE, {"b_id": "nope", "b_by": 3}).first() is None


def test_an_array_parameter_is_sent_as_one_value(db):
    with db.statements() as conn:
        assert fast.execute(conn, _COUNT_IN, {"ids": ["t0", "t2", "zz"]}).scalar_one() == 2


def test_errors_are_sqlalchemys_and_the_connection_stays_usable(db):
    with db.statements() as conn:
        with pytest.raises(IntegrityError):
            fast.execute(conn, _INSERT, {"id": "t0", "price": 1, "data": None, "status": "open", "at": _AT})
        assert fast.execute(conn, _COUNT_IN, {"ids": ["t0"]}).scalar_one() == 1


def test_inside_a_transaction_it_is_part_of_the_transaction(db):
    with pytest.raises(RuntimeError), db.transaction() as session:
        fast.execute(session.connection(), _RAISE, {"b_id": "t1", "b_by": 100})
        raise RuntimeError("undo")
    with db.statements() as conn:
        assert fast.execute(conn, _BY_STATUS, {"least": 0}).all()[1].price == 5  # rolled back


def test_engine_events_see_each_statement_as_they_would_through_sqlalchemy(db):
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql))
    with db.statements() as conn:
        fast.execute(conn, _BY_STATUS, {"least": 0})
    assert len(seen) == 1 and seen[0].lstrip().startswith("SELECT") and "$1" in seen[0]


def test_a_statement_that_would_expand_per_call_is_refused_when_first_compiled(db):
    expanding = select(_THINGS.c.id).where(_THINGS.c.id.in_(bindparam("ids", expanding=True)))
    with db.statements() as conn, pytest.raises(ValueError, match="ANY"):
        fast.execute(conn, expanding, {"ids": ["t0"]})


def test_an_insert_missing_a_column_with_a_python_default_is_refused(db):
    table = Table("fast_test_defaults", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", DateTime(timezone=True), default=lambda: _AT))
    with db.statements() as conn, pytest.raises(ValueError, match="every column"):
        fast.execute(conn, insert(table), {"id": 1})


def test_on_sqlite_it_is_conn_execute(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/t.db")
    _META.create_all(database.engine)
    try:
        with database.statements(write=True) as conn:
            fast.execute(conn, _INSERT, {"id": "a", "price": 3, "data": [1], "status": "open", "at": _AT})
        with database.statements() as conn:
            rows = fast.execute(conn, _BY_STATUS, {"least": 0}).all()
        assert [(r.id, r.price, r.data) for r in rows] == [("a", 3, [1])]
    finally:
        database.dispose()


def test_past_its_bound_a_new_statement_runs_through_sqlalchemy_uncached(db, monkeypatch):
    monkeypatch.setattr(fast, "MAX_PLANS", len(fast._PLANS))
    fresh = select(_THINGS.c.id).where(_THINGS.c.id == bindparam("b_id"))
    with db.statements() as conn:
        assert fast.execute(conn, fresh, {"b_id": "t2"}).scalar_one() == "t2"
    assert all(key[0] is not fresh for key in fast._PLANS)


def test_a_percent_sign_is_sent_as_it_is_and_names_are_sqlalchemys(db):
    like = (select(_THINGS.c.id, func.count(), _THINGS.c.price % 4, literal("50%").label("pct"))
            .where(_THINGS.c.id.like("t%")).group_by(_THINGS.c.id, _THINGS.c.price).order_by(_THINGS.c.id))
    with db.statements() as conn:
        quick, usual, quick_keys, usual_keys = _both(conn, like, {})
    assert quick == usual and len(quick) == 3 and quick[0][3] == "50%"
    assert quick_keys == usual_keys


def test_a_column_whose_reading_needs_the_drivers_type_code_is_refused_when_first_compiled(db):
    from sqlalchemy import Numeric, cast

    with db.statements() as conn, pytest.raises(ValueError, match="cannot return column"):
        fast.execute(conn, select(cast(_THINGS.c.price, Numeric(12, 2)).label("som")), {})

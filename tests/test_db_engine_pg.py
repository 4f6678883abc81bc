"""Pooled PostgreSQL connections: no ping per request, and a dead idle connection is replaced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from toolbox_core.db.engine import Database
from toolbox_core.db.sql import without_wal_flush


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    """A one-connection pool on the test database, disposed after the test."""
    database = Database(pg_url, pool_size=1)
    yield database
    database.dispose()


def test_a_connection_returned_a_moment_ago_is_reused_without_a_ping(db, monkeypatch):
    pinged: list[object] = []
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda conn: pinged.append(conn) or True)
    for _ in range(5):
        with db.session() as session:
            assert session.scalar(text("SELECT 1")) == 1
    assert pinged == []


def test_a_dead_connection_idle_in_the_pool_is_replaced_before_use(db, pg_url):
    with db.session() as session:
        old_pid = session.scalar(text("SELECT pg_backend_pid()"))
    killer = Database(pg_url, pool_size=1)
    try:
        with killer.transaction() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old_pid})
    finally:
        killer.dispose()
    for record in list(db.engine.pool._pool.queue):  # the idle connection: make it look old
        record.info["checked_in_at"] = 0.0
    with db.session() as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) != old_pid


def _prepared_statements(session) -> int:
    return session.scalar(text("SELECT count(*) FROM pg_prepared_statements"))


def test_read_sessions_keep_the_connections_prepared_statements(db):
    # psycopg prepares a statement run often enough, but forgets them all on ROLLBACK: a read
    # session that wrote nothing ends with COMMIT, so a hot read is not parsed and planned anew.
    for _ in range(8):
        with db.session() as session:
            session.execute(text("SELECT code FROM stock_locations WHERE code = :c"), {"c": "x"}).all()
    with db.session() as session:
        assert _prepared_statements(session) >= 1


def test_a_read_session_still_discards_what_it_wrote_and_did_not_commit(db):
    insert = text("INSERT INTO stock_locations (id, code, name, created_at, updated_at) "
                  "VALUES (:i, :i, :i, now(), now())")
    with db.session() as session:
        session.execute(insert, {"i": "sloc_discarded"})
    with db.session() as session:  # a write then reads only: still rolled back
        session.execute(insert, {"i": "sloc_discarded2"})
        session.execute(text("SELECT 1"))
    with db.session() as session:
        session.execute(insert, {"i": "sloc_kept"})
        session.commit()
    with db.session() as session:
        codes = session.scalars(text("SELECT code FROM stock_locations ORDER BY code")).all()
    assert codes == ["sloc_kept"]


def test_a_read_session_still_discards_pending_orm_changes(db):
    from toolbox_core.inventory.models import StockLocation

    with db.session() as session:
        session.scalar(text("SELECT 1"))
        session.add(StockLocation(id="sloc_pending", code="pending", name="pending"))
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM stock_locations")) == 0


class Refused(Exception):
    """A caller's refusal raised out of a transaction."""


@contextmanager
def transaction_ends(db: Database) -> Iterator[list[str]]:
    """How the transactions on ``db`` ended (``"commit"`` / ``"rollback"``) while open."""
    ends: list[str] = []
    listeners = [("commit", lambda conn: ends.append("commit")), ("rollback", lambda conn: ends.append("rollback"))]
    for name, listener in listeners:
        event.listen(db.engine, name, listener)
    try:
        yield ends
    finally:
        for name, listener in listeners:
            event.remove(db.engine, name, listener)


_FIND = text("SELECT code FROM stock_locations WHERE code = :c")
_INSERT = text("INSERT INTO stock_locations (id, code, name, created_at, updated_at) VALUES (:i, :i, :i, now(), now())")


def test_a_transaction_refused_after_its_reads_ends_with_commit_and_keeps_the_prepared_statements(db):
    # A callback refused after its read raises out of its transaction: it wrote nothing, so it
    # ends with COMMIT, and psycopg keeps what it prepared (a ROLLBACK would drop it all).
    with transaction_ends(db) as ends:
        for _ in range(3):
            with pytest.raises(Refused), db.transaction() as session:
                session.execute(_FIND, {"c": "x"}).all()
                raise Refused
    assert ends == ["commit"] * 3
    with db.session() as session:
        assert _prepared_statements(session) >= 1


def test_a_transaction_that_wrote_and_then_failed_is_rolled_back(db):
    with transaction_ends(db) as ends, pytest.raises(Refused), db.transaction() as session:
        session.execute(_FIND, {"c": "x"}).all()
        session.execute(_INSERT, {"i": "sloc_written"})
        raise Refused
    assert ends == ["rollback"]
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM stock_locations")) == 0


def test_a_transaction_with_pending_orm_changes_that_failed_is_rolled_back(db):
    from toolbox_core.inventory.models import StockLocation

    with pytest.raises(Refused), db.transaction() as session:
        session.add(StockLocation(id="sloc_pending", code="pending", name="pending"))
        raise Refused
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM stock_locations")) == 0


def test_a_transaction_whose_statement_failed_is_rolled_back_and_the_connection_stays_usable(db):
    with transaction_ends(db) as ends, pytest.raises(DBAPIError), db.transaction() as session:
        session.execute(text("SELECT 1 / 0")).all()  # PostgreSQL accepts only ROLLBACK now
    assert ends == ["rollback"]
    with db.transaction() as session:
        assert session.scalar(text("SELECT 1")) == 1


def test_a_statement_is_prepared_once_it_runs_a_second_time_on_a_connection(db):
    for _ in range(2):
        with db.session() as session:
            session.execute(text("SELECT name FROM stock_locations WHERE code = :c"), {"c": "y"}).all()
    with db.session() as session:
        assert _prepared_statements(session) == 1


def test_standalone_statements_send_no_begin_and_each_write_is_committed(db):
    """``statements()``: autocommit on PostgreSQL, so a one-statement read or write costs one
    round trip; another connection sees the write at once."""
    with db.statements(write=True) as conn:
        conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS standalone_probe (n int)"))
        assert conn.connection.dbapi_connection.autocommit is True
        conn.execute(text("INSERT INTO standalone_probe VALUES (1)"))
        assert conn.connection.dbapi_connection.info.transaction_status == 0  # IDLE: nothing open
        assert conn.scalar(text("SELECT count(*) FROM standalone_probe")) == 1
    with db.statements() as conn:  # the same pooled connection (pool of one), autocommit again
        assert conn.scalar(text("SELECT count(*) FROM standalone_probe")) == 1
    with db.session() as session:  # back to transactions for everyone else
        assert session.connection().connection.dbapi_connection.autocommit is False


def test_standalone_statements_on_sqlite_write_in_one_transaction(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'probe.db'}")
    try:
        with db.statements(write=True) as conn:
            conn.execute(text("CREATE TABLE probe (n int)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))
        with db.statements() as conn:
            assert conn.scalar(text("SELECT count(*) FROM probe")) == 1
    finally:
        db.dispose()


SHOW_COMMIT = "SHOW synchronous_commit"


def test_a_statement_that_skips_the_wal_flush_leaves_the_connection_durable(db):
    with db.statements(write=True) as conn:
        in_force = conn.execute(select(without_wal_flush(), func.current_setting("synchronous_commit"))).one()
        assert tuple(in_force) == ("off", "off")  # for that statement's own transaction
        assert conn.exec_driver_sql(SHOW_COMMIT).scalar() == "on"  # and no further


def test_statements_and_transactions_send_no_commit_setting_of_their_own(db):
    sent: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: sent.append(sql))
    with db.statements(write=True) as conn:
        conn.execute(select(without_wal_flush()))
    with db.transaction() as session:
        session.execute(text("CREATE TEMP TABLE durability_probe (x int)"))  # any write
        raw = session.connection().connection.dbapi_connection
        original = raw.execute
        raw.execute = lambda query, *args, **kwargs: (sent.append(query), original(query, *args, **kwargs))[1]
    del raw.execute
    assert not [sql for sql in sent if "synchronous_commit" in sql and "set_config" not in sql]

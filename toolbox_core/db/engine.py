"""Engines and sessions for SQLite (embedded) and PostgreSQL (production).

Services own their transactions::

    with db.transaction() as session:   # BEGIN ... COMMIT, or ROLLBACK on error
        session.add(thing)              # (COMMIT on PostgreSQL when it wrote nothing)

    with db.session() as session:       # read-only work
        session.scalars(select(Product))

On SQLite, :meth:`Database.transaction` starts with ``BEGIN IMMEDIATE`` so two writers never
dead-lock on a lock upgrade; reads use a plain deferred ``BEGIN`` and run concurrently (WAL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

_open = threading.local()


def in_transaction() -> bool:
    """True while the current thread is inside :meth:`Database.transaction`."""
    return getattr(_open, "depth", 0) > 0


class Database:
    """One database: an engine, a session factory and the transaction helpers."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10, lock_timeout_ms: int = 0) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            connect_args: dict[str, Any] = {"prepare_threshold": PREPARE_THRESHOLD}
            if lock_timeout_ms:  # sent with the login, no extra round trip
                connect_args["options"] = f"-c lock_timeout={int(lock_timeout_ms)}"
            kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2, connect_args=connect_args)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine)
            _track_writes(self.engine)
            _cache_long_queries()
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        writer_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        )
        self._writer = sessionmaker(writer_engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads (and writes you commit yourself); closed on exit.

        Uncommitted writes are rolled back on exit. On PostgreSQL, a transaction that wrote
        nothing ends with ``COMMIT`` instead (the same effect): psycopg drops every prepared
        statement of the connection on ``ROLLBACK``, so each read-only request would otherwise
        make the hot statements be parsed and planned again (see :func:`_track_writes`).
        """
        with self._reader() as session:
            yield session
            if not self.is_sqlite:
                _commit_if_clean(session)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error.

        On PostgreSQL, an error in a transaction that wrote nothing ends it with ``COMMIT``
        instead (the same effect, as in :meth:`session`): a caller refusing a request after its
        reads may simply raise without making psycopg drop the connection's prepared statements.
        """
        _open.depth = getattr(_open, "depth", 0) + 1
        try:
            with self._writer() as session:
                session.begin()
                try:
                    yield session
                except BaseException:
                    if not self.is_sqlite:
                        with suppress(Exception):  # the body's error is the one to raise
                            _commit_if_clean(session)  # else the session's close rolls back
                    raise
                session.commit()
        finally:
            _open.depth -= 1

    @contextmanager
    def statements(self, *, write: bool = False) -> Iterator[Connection]:
        """A connection whose statements each stand on their own, for work that is one statement
        (a read, or a write that is atomic by itself).

        On PostgreSQL the connection is in autocommit: no ``BEGIN`` / ``COMMIT`` round trips
        (psycopg sends ``BEGIN`` as a round trip of its own), each statement sees committed data
        and a write is committed (durably) when it ends; a statement that may skip the WAL flush
        says so itself (:func:`toolbox_core.db.sql.without_wal_flush`). On SQLite it is a read
        session's connection, or with ``write=True`` one ``BEGIN IMMEDIATE`` transaction
        committed on exit.
        """
        if self.is_sqlite:
            with (self.transaction() if write else self.session()) as session:
                yield session.connection()
        else:
            with self.engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


#: psycopg converts a query's ``%(name)s`` placeholders (a regex over the whole text) once per
#: distinct query only when it is at most 4,096 bytes with at most 50 parameters; past that, at
#: every execution. The kernel's hot statements (a cart read with its catalog, the one-statement
#: checkout) are longer, and their set is bounded: each is built once per shape and cached by
#: SQLAlchemy. So the limits are raised for them (measured: 4% of the API's CPU in a checkout).
PSYCOPG_CACHED_QUERY_BYTES = 64 * 1024
PSYCOPG_CACHED_QUERY_PARAMS = 1000


def _cache_long_queries() -> None:
    """Raise psycopg's query-conversion cache limits (see :data:`PSYCOPG_CACHED_QUERY_BYTES`);
    a psycopg without them is left as it is."""
    from psycopg import _queries

    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH") and hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, PSYCOPG_CACHED_QUERY_BYTES)
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, PSYCOPG_CACHED_QUERY_PARAMS)


#: psycopg prepares a statement on a connection once it has run this many times there (its
#: default is 5). Each of the pooled connections (request threads × workers) counts on its own,
#: so with 5 the hot statements stay unprepared (parsed and planned each time) for the first
#: minutes of a worker; a statement run twice is a statement of the hot path. Measured on the
#: checkout (2 workers, 16 clients, 8 s): PostgreSQL CPU per order 8.6 -> 6.8 ms.
PREPARE_THRESHOLD = 1

#: ``Connection.info`` key: the connection's current transaction ran a statement that may write.
_WROTE = "toolbox_wrote"


def _track_writes(engine: Engine) -> None:
    """Mark a connection's transaction as written to by any statement but a plain ``SELECT``.

    Conservative: ``WITH``, DML, DDL, ``text()`` commands all count as writes; the mark is cleared
    when a transaction begins.
    """

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.info[_WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            conn.info[_WROTE] = True


def _commit_if_clean(session: Session) -> None:
    """End a session's transaction with ``COMMIT`` when it has nothing to discard.

    Nothing to discard: no pending ORM change, no statement that may have written (see
    :func:`_track_writes`) and no failed statement (PostgreSQL then refuses everything but
    ``ROLLBACK``); otherwise the session's close rolls back as usual. After the COMMIT,
    SQLAlchemy's ROLLBACK on close finds the connection idle and sends nothing.
    """
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active or session.new or session.deleted or session.dirty:
        return
    conn = session.connection()
    if conn.info.get(_WROTE, True) or conn.invalidated:
        return
    if conn.connection.dbapi_connection.info.transaction_status == TransactionStatus.INERROR:
        return
    session.commit()


#: A pooled connection idle longer than this is pinged before use (the server may have closed it).
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle in the pool.

    ``pool_pre_ping`` costs one extra round trip on every checkout (about one per request); a
    connection returned a moment ago is alive, and if it still fails, SQLAlchemy invalidates it
    on the error as usual. A dead connection raises ``DisconnectionError`` here, so the pool
    replaces it transparently.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("checked_in_at", 0.0) < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)  # what pool_pre_ping runs
        except Exception as exc:
            raise DisconnectionError("pooled connection is dead") from exc
        if not alive:
            raise DisconnectionError("pooled connection is dead")


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN handled by us (pysqlite's own is broken)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin")
        conn.exec_driver_sql(f"BEGIN {mode}" if mode else "BEGIN")

"""Pooled PostgreSQL connections: no ping per request, and a dead idle connection is replaced."""

from __future__ import annotations

from sqlalchemy import text

from toolbox_core.db.engine import Database


def test_a_connection_returned_a_moment_ago_is_reused_without_a_ping(pg_url, monkeypatch):
    db = Database(pg_url, pool_size=1)
    pinged: list[object] = []
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda conn: pinged.append(conn) or True)
    try:
        for _ in range(5):
            with db.session() as session:
                assert session.scalar(text("SELECT 1")) == 1
        assert pinged == []
    finally:
        db.dispose()


def test_a_dead_connection_idle_in_the_pool_is_replaced_before_use(pg_url):
    db = Database(pg_url, pool_size=1)
    try:
        with db.session() as session:
            old_pid = session.scalar(text("SELECT pg_backend_pid()"))
        killer = Database(pg_url, pool_size=1)
        with killer.transaction() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old_pid})
        killer.dispose()
        for record in list(db.engine.pool._pool.queue):  # the idle connection: make it look old
            record.info["checked_in_at"] = 0.0
        with db.session() as session:
            assert session.scalar(text("SELECT pg_backend_pid()")) != old_pid
    finally:
        db.dispose()

"""The key store on the database (embedded mode), with the same semantics as Redis.

Each operation is one short transaction built from conditional statements (``INSERT ... ON
CONFLICT``, ``DELETE ... RETURNING``) or, for :meth:`verify_and_consume`, a row lock
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite). Expired rows are
ignored by every query and deleted now and then by writes.
"""

from __future__ import annotations

import hmac
import random
import time
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.exc import OperationalError

from toolbox_core.db import Database
from toolbox_core.db.upsert import upsert
from toolbox_core.keystore.base import KeyStore, KeyStoreUnavailable, VerifyOutcome, WindowHit
from toolbox_core.keystore.models import KeystoreEntry

#: Share of writes that also sweep expired rows.
CLEANUP_PROBABILITY = 0.01

_T = KeystoreEntry.__table__


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _ceil_seconds(millis: int) -> int:
    return max(0, -(-int(millis) // 1000))


class DatabaseKeyStore(KeyStore):
    """:class:`KeyStore` on the ``keystore_entries`` table (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._dialect = db.engine.dialect

    def _live(self, key: str, now: int) -> Any:
        return (_T.c.key == key) & (_T.c.expires_at > now)

    def _maybe_sweep(self, session: Any, now: int) -> None:
        if random.random() < CLEANUP_PROBABILITY:
            session.execute(delete(_T).where(_T.c.expires_at <= now))

    def _upsert(self, key: str, value: str, ttl_seconds: int, *, only_if_expired: bool) -> bool:
        now = _now_ms()
        expires = now + int(ttl_seconds * 1000)
        stmt = upsert(
            self._dialect, _T, {"key": key, "value": value, "attempts": 0, "expires_at": expires},
            conflict=[_T.c.key], update=["value", "attempts", "expires_at"],
            where=(_T.c.expires_at <= now) if only_if_expired else None,
        ).returning(_T.c.key)
        with self._transaction() as session:
            stored = session.execute(stmt).first() is not None
            self._maybe_sweep(session, now)
        return stored

    def _transaction(self) -> Any:
        return _Guarded(self.db.transaction)

    def _session(self) -> Any:
        return _Guarded(self.db.session)

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self._upsert(key, value, ttl_seconds, only_if_expired=False)

    def get(self, key: str) -> str | None:
        with self._session() as session:
            return session.execute(select(_T.c.value).where(self._live(key, _now_ms()))).scalar()

    def ttl(self, key: str) -> int | None:
        now = _now_ms()
        with self._session() as session:
            expires = session.execute(select(_T.c.expires_at).where(self._live(key, now))).scalar()
        return None if expires is None else _ceil_seconds(expires - now)

    def delete(self, key: str) -> bool:
        now = _now_ms()
        with self._transaction() as session:
            row = session.execute(delete(_T).where(_T.c.key == key).returning(_T.c.expires_at)).first()
        return row is not None and row.expires_at > now

    def set_if_absent(self, key: str, value: str, ttl_seconds: int) -> bool:
        return self._upsert(key, value, ttl_seconds, only_if_expired=True)

    def consume(self, key: str) -> str | None:
        with self._transaction() as session:
            return session.execute(delete(_T).where(self._live(key, _now_ms())).returning(_T.c.value)).scalar()

    def compare_and_consume(self, key: str, expected: str) -> bool:
        # The value is checked in constant time in Python under the row lock, as on Redis.
        with self._transaction() as session:
            value = self._locked_value(session, key)
            if value is None or not hmac.compare_digest(value.encode(), expected.encode()):
                return False
            session.execute(delete(_T).where(_T.c.key == key))
            return True

    def verify_and_consume(self, key: str, candidate: str, max_attempts: int) -> VerifyOutcome:
        with self._transaction() as session:
            value = self._locked_value(session, key)
            if value is None:
                return VerifyOutcome.MISSING
            if hmac.compare_digest(value.encode(), candidate.encode()):
                session.execute(delete(_T).where(_T.c.key == key))
                return VerifyOutcome.OK
            attempts = session.execute(
                update(_T).where(_T.c.key == key).values(attempts=_T.c.attempts + 1).returning(_T.c.attempts)
            ).scalar_one()
            if attempts >= max_attempts:
                session.execute(delete(_T).where(_T.c.key == key))
                return VerifyOutcome.EXHAUSTED
            return VerifyOutcome.MISMATCH

    def _locked_value(self, session: Any, key: str) -> str | None:
        query = select(_T.c.value).where(self._live(key, _now_ms()))
        if not self.db.is_sqlite:  # SQLite: BEGIN IMMEDIATE already serializes writers
            query = query.with_for_update()
        return session.execute(query).scalar()

    def _window_upsert(self, key: str, window_seconds: float, amount: int, now: int, *, limit: int | None = None) -> Any:
        """Add ``amount`` to the live window of ``key`` or start a new one (over an expired row);
        with ``limit``, only while the live window's count stays within it."""
        expires = now + int(window_seconds * 1000)
        expired = _T.c.expires_at <= now
        return upsert(
            self._dialect, _T, {"key": key, "value": "", "attempts": amount, "expires_at": expires},
            conflict=[_T.c.key],
            update={
                "attempts": case((expired, amount), else_=_T.c.attempts + amount),
                "expires_at": case((expired, expires), else_=_T.c.expires_at),
                "value": case((expired, ""), else_=_T.c.value),
            },
            where=None if limit is None else expired | (_T.c.attempts + amount <= limit),
        ).returning(_T.c.attempts, _T.c.expires_at)

    @staticmethod
    def _window(row: Any, now: int, *, admitted: bool = True) -> WindowHit:
        left = max(0, row.expires_at - now)
        return WindowHit(count=row.attempts, reset_in=max(1, _ceil_seconds(left)), reset_in_ms=left,
                         admitted=admitted)

    def hit(self, key: str, window_seconds: float, amount: int = 1) -> WindowHit:
        now = _now_ms()
        with self._transaction() as session:
            row = session.execute(self._window_upsert(key, window_seconds, int(amount), now)).one()
            self._maybe_sweep(session, now)
        return self._window(row, now)

    def hit_within(self, key: str, window_seconds: float, limit: int, amount: int = 1) -> WindowHit:
        # One upsert whose DO UPDATE holds only while the count stays within ``limit``. A refused
        # conflicting row is still locked by it (PostgreSQL; SQLite has one writer), so the read
        # after a refusal, in the same transaction, sees the count that refused it.
        now = _now_ms()
        amount, limit = int(amount), int(limit)
        with self._transaction() as session:
            if amount <= limit:
                row = session.execute(self._window_upsert(key, window_seconds, amount, now, limit=limit)).first()
                if row is not None:
                    self._maybe_sweep(session, now)
                    return self._window(row, now)
            row = session.execute(select(_T.c.attempts, _T.c.expires_at).where(self._live(key, now))).first()
        if row is None:  # nothing counted and ``amount`` alone is over ``limit``
            window = int(window_seconds * 1000)
            return WindowHit(count=0, reset_in=max(1, _ceil_seconds(window)), reset_in_ms=window, admitted=False)
        return self._window(row, now, admitted=False)

    def window(self, key: str) -> WindowHit | None:
        now = _now_ms()
        with self._session() as session:
            row = session.execute(select(_T.c.attempts, _T.c.expires_at).where(self._live(key, now))).first()
        return None if row is None else self._window(row, now)

    def give_back(self, key: str, amount: int = 1) -> int | None:
        amount = int(amount)
        stmt = (
            update(_T).where(self._live(key, _now_ms()))
            .values(attempts=case((_T.c.attempts > amount, _T.c.attempts - amount), else_=0))
            .returning(_T.c.attempts)
        )
        with self._transaction() as session:
            return session.execute(stmt).scalar()

    def renew(self, key: str, value: str, ttl_seconds: float) -> bool:
        now = _now_ms()
        with self._transaction() as session:
            query = select(_T.c.value).where(self._live(key, now))
            if not self.db.is_sqlite:
                query = query.with_for_update()
            current = session.execute(query).scalar()
            if current is None or not hmac.compare_digest(current.encode(), value.encode()):
                return False
            session.execute(update(_T).where(_T.c.key == key).values(expires_at=now + int(ttl_seconds * 1000)))
            return True

    def ping(self) -> None:
        try:
            self.db.ping()
        except OperationalError as exc:
            raise KeyStoreUnavailable("the database behind the key store is unreachable") from exc


class _Guarded:
    """A database session context that turns connection failures into :class:`KeyStoreUnavailable`."""

    def __init__(self, factory: Any) -> None:
        self._cm = factory()

    def __enter__(self) -> Any:
        try:
            return self._cm.__enter__()
        except OperationalError as exc:
            raise KeyStoreUnavailable("the database behind the key store is unreachable") from exc

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        handled = self._cm.__exit__(exc_type, exc, tb)
        if isinstance(exc, OperationalError):
            raise KeyStoreUnavailable("the database behind the key store is unreachable or busy") from exc
        return handled

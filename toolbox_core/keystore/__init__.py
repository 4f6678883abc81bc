"""keystore domain: short-lived sensitive state (see :mod:`toolbox_core.keystore.base`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolbox_core.keystore.base import KeyStore, KeyStoreUnavailable, VerifyOutcome, WindowHit

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.config import Settings
    from toolbox_core.db import Database


def build_keystore(settings: Settings, db: Database) -> KeyStore:
    """Redis when ``settings.redis_url`` is set (never a silent fallback), the database otherwise.

    On Redis every key lives under ``settings.jobs.redis_namespace``, like the broker's and the
    scheduler's keys: one namespace for everything the kernel writes.
    """
    if settings.redis_url:
        from toolbox_core.keystore.redis_store import RedisKeyStore

        return RedisKeyStore(settings.redis_url, namespace=settings.jobs.redis_namespace)
    from toolbox_core.keystore.db_store import DatabaseKeyStore

    return DatabaseKeyStore(db)


__all__ = ["KeyStore", "KeyStoreUnavailable", "VerifyOutcome", "WindowHit", "build_keystore"]

"""The key store keeps the same promises on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from toolbox_core.config import Settings
from toolbox_core.db import Database
from toolbox_core.keystore import KeyStore, KeyStoreUnavailable, VerifyOutcome, build_keystore
from toolbox_core.keystore.db_store import DatabaseKeyStore
from toolbox_core.keystore.redis_store import RedisKeyStore


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[KeyStore]:
    if request.param == "redis":
        ks = RedisKeyStore(request.getfixturevalue("redis_clean"))
        yield ks
        ks.close()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    db = Database(url)
    yield DatabaseKeyStore(db)
    db.dispose()


def expire(store: KeyStore, key: str) -> None:
    """Make ``key`` expire now, without sleeping (backend-specific back door for tests)."""
    if isinstance(store, RedisKeyStore):
        store.client.pexpire(store.redis_key(key), 1)
        while store.client.exists(store.redis_key(key)):
            time.sleep(0.001)
    else:
        from sqlalchemy import update

        from toolbox_core.keystore.models import KeystoreEntry

        with store.db.transaction() as session:
            session.execute(update(KeystoreEntry).where(KeystoreEntry.key == key).values(expires_at=0))


def race(workers: int, call: Callable[[], object]) -> list[object]:
    """Run ``call`` from ``workers`` threads released at the same moment."""
    barrier = threading.Barrier(workers)

    def run() -> object:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda _: run(), range(workers)))


def test_set_then_get_and_ttl(store):
    store.set("k", "v1", 60)
    assert store.get("k") == "v1"
    assert 58 <= store.ttl("k") <= 60
    store.set("k", "v2", 120)
    assert store.get("k") == "v2"
    assert store.ttl("k") > 60


def test_missing_key_reads_as_none(store):
    assert store.get("nope") is None
    assert store.ttl("nope") is None
    assert store.consume("nope") is None
    assert store.delete("nope") is False


def test_expired_value_is_gone_everywhere(store):
    store.set("k", "v", 60)
    expire(store, "k")
    assert store.get("k") is None
    assert store.ttl("k") is None
    assert store.consume("k") is None
    assert store.compare_and_consume("k", "v") is False
    assert store.verify_and_consume("k", "v", 5) is VerifyOutcome.MISSING
    assert store.set_if_absent("k", "new", 60) is True
    assert store.get("k") == "new"


def test_delete_removes_a_live_key(store):
    store.set("k", "v", 60)
    assert store.delete("k") is True
    assert store.get("k") is None


def test_set_if_absent_keeps_the_first_value(store):
    assert store.set_if_absent("lock", "a", 60) is True
    assert store.set_if_absent("lock", "b", 60) is False
    assert store.get("lock") == "a"


def test_consume_returns_the_value_once(store):
    store.set("k", "v", 60)
    assert store.consume("k") == "v"
    assert store.consume("k") is None


def test_compare_and_consume_needs_the_right_value(store):
    store.set("k", "secret", 60)
    assert store.compare_and_consume("k", "wrong") is False
    assert store.get("k") == "secret"
    assert store.compare_and_consume("k", "secret") is True
    assert store.compare_and_consume("k", "secret") is False


def test_verify_counts_wrong_attempts_then_kills_the_value(store):
    store.set("code", "h", 60)
    outcomes = [store.verify_and_consume("code", "x", 3) for _ in range(4)]
    assert outcomes == [VerifyOutcome.MISMATCH, VerifyOutcome.MISMATCH, VerifyOutcome.EXHAUSTED, VerifyOutcome.MISSING]
    assert store.get("code") is None


def test_verify_consumes_a_match_once(store):
    store.set("code", "h", 60)
    assert store.verify_and_consume("code", "x", 5) is VerifyOutcome.MISMATCH
    assert store.verify_and_consume("code", "h", 5) is VerifyOutcome.OK
    assert store.verify_and_consume("code", "h", 5) is VerifyOutcome.MISSING


def test_set_resets_wrong_attempts(store):
    store.set("code", "h", 60)
    for _ in range(4):
        store.verify_and_consume("code", "x", 5)
    store.set("code", "h2", 60)
    assert [store.verify_and_consume("code", "x", 5) for _ in range(5)][-1] is VerifyOutcome.EXHAUSTED
    store.set("code", "h3", 60)
    assert store.verify_and_consume("code", "x", 5) is VerifyOutcome.MISMATCH


def test_window_counts_hits_and_resets_after_it_ends(store):
    first = store.hit("rl", 60)
    second = store.hit("rl", 60)
    assert (first.count, second.count) == (1, 2)
    assert 1 <= second.reset_in <= 60
    expire(store, "rl")
    assert store.hit("rl", 60).count == 1


def test_windows_are_separate_per_key(store):
    store.hit("a", 60)
    store.hit("a", 60)
    assert store.hit("b", 60).count == 1


def test_concurrent_compare_and_consume_has_exactly_one_winner(store):
    store.set("k", "v", 60)
    results = race(16, lambda: store.compare_and_consume("k", "v"))
    assert results.count(True) == 1


def test_concurrent_consume_gives_the_value_to_one_caller(store):
    store.set("k", "v", 60)
    results = race(16, lambda: store.consume("k"))
    assert results.count("v") == 1
    assert results.count(None) == 15


def test_concurrent_right_guesses_verify_once(store):
    store.set("k", "v", 60)
    results = race(16, lambda: store.verify_and_consume("k", "v", 5))
    assert results.count(VerifyOutcome.OK) == 1
    assert results.count(VerifyOutcome.MISSING) == 15


def test_concurrent_wrong_guesses_get_at_most_max_checks(store):
    store.set("k", "v", 60)
    results = race(16, lambda: store.verify_and_consume("k", "x", 5))
    assert results.count(VerifyOutcome.MISMATCH) == 4
    assert results.count(VerifyOutcome.EXHAUSTED) == 1
    assert results.count(VerifyOutcome.MISSING) == 11


def test_concurrent_hits_are_all_counted(store):
    results = race(16, lambda: store.hit("rl", 60).count)
    assert sorted(results) == list(range(1, 17))


def test_concurrent_set_if_absent_has_one_winner(store):
    results = race(16, lambda: store.set_if_absent("lock", "x", 60))
    assert results.count(True) == 1


def test_database_store_sweeps_expired_rows(sqlite_url, monkeypatch):
    from sqlalchemy import func, select

    from toolbox_core.keystore import db_store
    from toolbox_core.keystore.models import KeystoreEntry

    db = Database(sqlite_url)
    ks = DatabaseKeyStore(db)
    for n in range(5):
        ks.set(f"old{n}", "v", 60)
        expire(ks, f"old{n}")
    monkeypatch.setattr(db_store, "CLEANUP_PROBABILITY", 1.0)
    ks.set("fresh", "v", 60)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(KeystoreEntry)) == 1
    db.dispose()


def test_unreachable_redis_raises_keystore_unavailable():
    ks = RedisKeyStore("redis://127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(KeyStoreUnavailable):
        ks.set("k", "v", 60)
    with pytest.raises(KeyStoreUnavailable):
        ks.ping()


def test_redis_url_selects_redis_and_never_falls_back(sqlite_url):
    db = Database(sqlite_url)
    assert isinstance(build_keystore(Settings(database_url=sqlite_url, redis_url="redis://127.0.0.1:1/0"), db), RedisKeyStore)
    assert isinstance(build_keystore(Settings(database_url=sqlite_url), db), DatabaseKeyStore)
    db.dispose()


def test_weighted_hits_count_their_amount_and_tell_the_reset_in_ms(store: KeyStore) -> None:
    first = store.hit("rate:weighted", 3, amount=5)
    second = store.hit("rate:weighted", 3, amount=4)
    assert (first.count, second.count) == (5, 9)
    assert 0 < second.reset_in_ms <= 3000


def test_renew_extends_only_the_holders_value(store: KeyStore) -> None:
    assert store.set_if_absent("lease:x", "mine", 1)
    assert not store.renew("lease:x", "theirs", 30)
    assert store.renew("lease:x", "mine", 30)
    assert store.ttl("lease:x") > 10
    assert not store.renew("lease:absent", "mine", 30)


def test_hit_within_counts_up_to_the_limit_and_no_further(store: KeyStore) -> None:
    hits = [store.hit_within("cap", 60, limit=3) for _ in range(5)]
    assert [(h.count, h.admitted) for h in hits] == [(1, True), (2, True), (3, True), (3, False), (3, False)]
    assert all(0 < h.reset_in <= 60 for h in hits)
    assert store.hit("cap", 60).count == 4, "a refused hit counted nothing"
    weighted = store.hit_within("cap:weighted", 60, limit=5, amount=3)
    assert (weighted.count, weighted.admitted) == (3, True)
    assert (store.hit_within("cap:weighted", 60, limit=5, amount=3).admitted,
            store.hit_within("cap:weighted", 60, limit=5, amount=2).count) == (False, 5)
    over = store.hit_within("cap:over", 60, limit=1, amount=2)
    assert (over.count, over.admitted) == (0, False) and 0 < over.reset_in <= 60
    assert store.get("cap:over") is None and store.ttl("cap:over") is None, "a refusal writes nothing"


def test_hit_within_starts_a_new_window_after_the_old_one_ends(store: KeyStore) -> None:
    for _ in range(2):
        store.hit_within("cap", 60, limit=2)
    assert not store.hit_within("cap", 60, limit=2).admitted
    expire(store, "cap")
    fresh = store.hit_within("cap", 60, limit=2)
    assert (fresh.count, fresh.admitted) == (1, True) and fresh.reset_in > 50


def test_concurrent_hits_within_a_limit_admit_exactly_the_limit(store: KeyStore) -> None:
    store.hit("cap", 60, amount=2)
    results = race(16, lambda: store.hit_within("cap", 60, limit=7))
    admitted = sorted(hit.count for hit in results if hit.admitted)
    assert admitted == [3, 4, 5, 6, 7]
    assert {hit.count for hit in results if not hit.admitted} == {7}
    assert store.hit("cap", 60).count == 8


def test_give_back_uncounts_a_live_window_only(store: KeyStore) -> None:
    store.hit("cap", 60, amount=3)
    assert store.give_back("cap") == 2
    assert store.give_back("cap", 5) == 0, "never below zero"
    assert store.hit_within("cap", 60, limit=1).admitted
    assert 50 < store.ttl("cap") <= 60, "the window's reset is unchanged"
    assert store.give_back("absent") is None
    assert store.get("absent") is None and store.ttl("absent") is None, "an ended window is not recreated"
    expire(store, "cap")
    assert store.give_back("cap") is None


def test_window_reads_a_live_windows_count_without_counting(store: KeyStore) -> None:
    assert store.window("cap") is None, "never hit"
    store.hit("cap", 60, amount=2)
    seen = store.window("cap")
    assert seen is not None and seen.count == 2 and 50 < seen.reset_in <= 60 and seen.reset_in_ms > 50_000
    assert store.window("cap").count == 2, "reading counted nothing"
    assert store.hit("cap", 60).count == 3
    expire(store, "cap")
    assert store.window("cap") is None, "an ended window"
    assert store.get("cap") is None and store.ttl("cap") is None, "reading created nothing"

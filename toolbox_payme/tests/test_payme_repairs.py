"""A repeated CreateTransaction that is the first call to find its transaction expired."""

from __future__ import annotations

import time

import pytest

from tests.fakes.payme import now_ms, payme_id

DATABASES = ["sqlite", "postgres"]


@pytest.mark.parametrize("database", DATABASES)
def test_a_repeated_create_after_the_timeout_expires_the_transaction(make_payme_store, database):
    store = make_payme_store(database=database)
    order = store.order()
    tx = payme_id()
    at = now_ms() - 43_200_000 + 1_500  # expires while we wait
    assert store.payme.create(tx, order["number"], order["total"], at=at).result["state"] == 1
    time.sleep(2)
    # The repeat is the first call to see the expiry: it cancels (reason 4) and refuses.
    assert store.payme.create(tx, order["number"], order["total"], at=at).code == -31008
    checked = store.payme.check_transaction(tx).result
    assert (checked["state"], checked["reason"]) == (-1, 4)
    assert store.get_order(order["id"])["status"] == "canceled"

"""The callbacks' own row, written in one statement each (``toolbox_click.rows``): a Prepare inserts
it first and a refusal rolls it back; a repeat inserts nothing; a Complete confirms only the
matching prepared row. On SQLite and PostgreSQL (the insert's ON CONFLICT differs by dialect)."""

from __future__ import annotations

import pytest
from click_testkit import Store, som
from sqlalchemy import text


def attempts(store: Store, order_id: str) -> list[tuple[int, str, str | None]]:
    with store.toolbox.db.session() as session:
        return [tuple(r) for r in session.execute(text(
            "SELECT click_trans_id, status, reversal_status FROM click_transactions WHERE order_id = :o ORDER BY id"),
            {"o": order_id})]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_prepare_refused_after_payment_leaves_no_row_and_repeats_insert_nothing(make_store, database) -> None:
    store = make_store(database=database)
    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    first = store.click.prepare(trans, order["number"], amount)
    assert first["error"] == 0
    assert store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"] == first["merchant_prepare_id"]
    assert attempts(store, order["id"]) == [(int(trans), "prepared", None)]

    assert store.click.complete(trans, order["number"], amount, first["merchant_prepare_id"])["error"] == 0
    late = store.click.new_trans_id()
    assert store.click.prepare(late, order["number"], amount)["error"] == -4  # paid: refused, row rolled back
    assert attempts(store, order["id"]) == [(int(trans), "confirmed", None)]
    # The refused attempt's click_trans_id is still free for its own order.
    other = store.order()
    again = store.click.prepare(late, other["number"], som(other["total"]))
    assert again["error"] == 0 and again["merchant_prepare_id"] != first["merchant_prepare_id"]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_complete_confirms_only_the_matching_prepared_row(make_store, database) -> None:
    store = make_store(database=database)
    order, other = store.order(), store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepare_id = store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"]
    other_trans = store.click.new_trans_id()
    other_id = store.click.prepare(other_trans, other["number"], som(other["total"]))["merchant_prepare_id"]

    # Another order's attempt, another click_trans_id, another amount: nothing confirmed.
    assert store.click.complete(trans, order["number"], amount, other_id)["error"] == -6
    assert store.click.complete(other_trans, order["number"], amount, prepare_id)["error"] == -6
    assert store.click.complete(trans, order["number"], som(order["total"] + 100), prepare_id)["error"] == -2
    assert attempts(store, order["id"]) == [(int(trans), "prepared", None)]
    assert store.events("payment.captured") == 0

    done = store.click.complete(trans, order["number"], amount, prepare_id)
    assert (done["error"], done["merchant_confirm_id"]) == (0, prepare_id)
    assert store.click.complete(trans, order["number"], amount, prepare_id)["error"] == -4
    assert attempts(store, order["id"]) == [(int(trans), "confirmed", None)]
    assert attempts(store, other["id"]) == [(int(other_trans), "prepared", None)]
    assert store.events("payment.captured") == 1


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_confirming_an_attempt_that_is_no_longer_prepared_fails_and_changes_nothing(make_store, database) -> None:
    """The confirmation runs inside the capture's own statement: should the attempt have left
    ``prepared`` after the callback read it, the statement must fail (and take the capture with
    it), never confirm it or capture without it."""
    from sqlalchemy.exc import IntegrityError

    from toolbox_click import rows
    from toolbox_core.api import utcnow

    store = make_store(database=database)
    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepare_id = store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"]
    cancelled = store.click.complete(trans, order["number"], amount, prepare_id, error="-5017")
    assert cancelled["error"] == -9
    with pytest.raises(IntegrityError), store.toolbox.db.transaction() as session:
        session.connection().execute(rows.CONFIRM, {"c_row": prepare_id, "c_now": utcnow(), "c_reversal": None})
    assert attempts(store, order["id"]) == [(int(trans), "cancelled", None)]
    assert store.click.complete(trans, order["number"], amount, prepare_id)["error"] == -9
    assert store.events("payment.captured") == 0

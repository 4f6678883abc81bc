"""Click's official test matrix (the Postman generator of docs.click.uz/testing, spec §2.1),
row by row, through the real HTTP endpoints of a served store, signatures computed in the test."""

from __future__ import annotations

from click_testkit import Store, som


def test_the_fifteen_rows_of_the_official_matrix(store: Store) -> None:
    click = store.click
    paid, other, cancelled = store.order(), store.order(), store.order()
    amount = som(paid["total"])
    first = click.new_trans_id()

    # 1. Prepare with a bad signature → -1
    fields = click.fields(0, first, paid["number"], amount)
    fields["sign_string"] = "0" * 32
    assert click.post("/click/prepare", fields)["error"] == -1
    # 2. Prepare for an order that does not exist → -5
    assert click.prepare(first, "99999999", amount)["error"] == -5
    # 3. Prepare of a valid unpaid order → 0 with our merchant_prepare_id
    prepared = click.prepare(first, paid["number"], amount)
    assert prepared["error"] == 0
    assert prepared["click_trans_id"] == int(first) and prepared["merchant_trans_id"] == paid["number"]
    prepare_id = prepared["merchant_prepare_id"]
    assert isinstance(prepare_id, int)
    # 4. Complete with a bad signature → -1
    fields = click.fields(1, first, paid["number"], amount, prepare_id=str(prepare_id))
    fields["sign_string"] = fields["sign_string"][::-1]
    assert click.post("/click/complete", fields)["error"] == -1
    # 5. Complete with a wrong amount (forced 300) → -2
    assert click.complete(first, paid["number"], "300", prepare_id)["error"] == -2
    # 6. Complete confirms the payment from row 3 → 0
    confirmed = click.complete(first, paid["number"], amount, prepare_id)
    assert (confirmed["error"], confirmed["merchant_confirm_id"]) == (0, prepare_id)
    # 7. The same successful Complete again → -4 "Already paid"
    assert click.complete(first, paid["number"], amount, prepare_id)["error"] == -4
    # 8. Complete with error=-5017 on the already-confirmed payment → -9
    assert click.complete(first, paid["number"], amount, prepare_id, error="-5017",
                          error_note="Insufficient funds")["error"] == -9

    # 9. A new Prepare → 0
    second = click.new_trans_id()
    other_amount = som(other["total"])
    second_id = click.prepare(second, other["number"], other_amount)["merchant_prepare_id"]
    # 10. Complete naming merchant_prepare_id=999999999 → -6
    assert click.complete(second, other["number"], other_amount, 999999999)["error"] == -6
    # 11. Complete with the prepare id of row 9 → 0
    assert click.complete(second, other["number"], other_amount, second_id)["error"] == 0

    # 12. A new Prepare, for the cancellation test → 0
    third = click.new_trans_id()
    third_amount = som(cancelled["total"])
    third_id = click.prepare(third, cancelled["number"], third_amount)["merchant_prepare_id"]
    # 13. Complete with error=-5017: Click did not take the money → -9 (cancelled)
    assert click.complete(third, cancelled["number"], third_amount, third_id, error="-5017")["error"] == -9
    # 14. The same cancel again → -9
    assert click.complete(third, cancelled["number"], third_amount, third_id, error="-5017")["error"] == -9
    # 15. Complete with error=0 for the cancelled payment → -9
    assert click.complete(third, cancelled["number"], third_amount, third_id)["error"] == -9

    # What the matrix left behind in the store.
    orders = store.http.get(f"{store.url}/admin/orders", headers=store.admin("orders:read")).json()["items"]
    by_number = {o["number"]: o for o in orders}
    assert by_number[paid["number"]]["payment_status"] == "paid"
    assert by_number[other["number"]]["payment_status"] == "paid"
    assert by_number[cancelled["number"]]["status"] == "canceled"
    assert store.events("payment.captured") == 2
    assert store.events("payment.canceled") == 1


def test_every_reply_is_flat_json_with_integer_codes_and_the_echoed_ids(store: Store) -> None:
    order = store.order()
    trans = store.click.new_trans_id()
    body = store.click.prepare(trans, order["number"], som(order["total"]))
    assert set(body) == {"click_trans_id", "merchant_trans_id", "merchant_prepare_id", "error", "error_note"}
    assert (body["error"], body["error_note"]) == (0, "Success")
    done = store.click.complete(trans, order["number"], som(order["total"]), body["merchant_prepare_id"])
    assert set(done) == {"click_trans_id", "merchant_trans_id", "merchant_confirm_id", "error", "error_note"}
    assert done["error_note"] == "Success"


def test_a_repeated_prepare_returns_the_same_merchant_prepare_id(store: Store) -> None:
    order = store.order()
    trans = store.click.new_trans_id()
    first = store.click.prepare(trans, order["number"], som(order["total"]))
    again = store.click.prepare(trans, order["number"], som(order["total"]))
    assert first["error"] == again["error"] == 0
    assert first["merchant_prepare_id"] == again["merchant_prepare_id"]


def test_prepare_of_a_paid_order_is_already_paid_and_of_a_cancelled_one_is_cancelled(store: Store) -> None:
    paid, dropped = store.order(), store.order()
    click = store.click
    trans = click.new_trans_id()
    prepare_id = click.prepare(trans, paid["number"], som(paid["total"]))["merchant_prepare_id"]
    assert click.complete(trans, paid["number"], som(paid["total"]), prepare_id)["error"] == 0
    assert click.prepare(click.new_trans_id(), paid["number"], som(paid["total"]))["error"] == -4
    assert click.prepare(trans, paid["number"], som(paid["total"]))["error"] == -4

    trans = click.new_trans_id()
    prepare_id = click.prepare(trans, dropped["number"], som(dropped["total"]))["merchant_prepare_id"]
    assert click.complete(trans, dropped["number"], som(dropped["total"]), prepare_id, error="-1")["error"] == -9
    assert click.prepare(click.new_trans_id(), dropped["number"], som(dropped["total"]))["error"] == -9
    assert click.prepare(trans, dropped["number"], som(dropped["total"]))["error"] == -9


def test_a_complete_for_another_orders_prepare_id_is_unknown(store: Store) -> None:
    one, two = store.order(), store.order()
    click = store.click
    t1, t2 = click.new_trans_id(), click.new_trans_id()
    id1 = click.prepare(t1, one["number"], som(one["total"]))["merchant_prepare_id"]
    click.prepare(t2, two["number"], som(two["total"]))
    assert click.complete(t2, two["number"], som(two["total"]), id1)["error"] == -6
    assert click.complete(t1, two["number"], som(two["total"]), id1)["error"] == -6


def test_the_callback_url_dispatches_on_action(store: Store) -> None:
    order = store.order()
    click = store.click
    trans = click.new_trans_id()
    amount = som(order["total"])
    prepared = click.post("/click/callback", click.fields(0, trans, order["number"], amount))
    assert prepared["error"] == 0
    done = click.post("/click/callback", click.fields(1, trans, order["number"], amount,
                                                      prepare_id=str(prepared["merchant_prepare_id"])))
    assert (done["error"], done["merchant_confirm_id"]) == (0, prepared["merchant_prepare_id"])
    # The dedicated URLs refuse the other action: -3.
    assert click.post("/click/prepare", click.fields(1, trans, order["number"], amount,
                                                     prepare_id="1"))["error"] == -3
    assert click.post("/click/complete", click.fields(0, trans, order["number"], amount))["error"] == -3
    assert click.post("/click/callback", click.fields(2, trans, order["number"], amount))["error"] == -3

"""What Click may send, and what a careless or hostile caller may send: signatures over the raw
strings, amounts in every format Click uses, malformed requests (-8), wrong service, bounds."""

from __future__ import annotations

import pytest
from click_testkit import SECRET, Store, add_product, place_order, sign, som

SIGNED_FIELDS = ("click_trans_id", "service_id", "merchant_trans_id", "amount", "action", "sign_time")


@pytest.mark.parametrize("field", SIGNED_FIELDS)
def test_a_prepare_changed_in_any_signed_field_fails_the_signature(store: Store, field: str) -> None:
    order = store.order()
    fields = store.click.fields(0, store.click.new_trans_id(), order["number"], som(order["total"]))
    changed = {"click_trans_id": "900000777", "service_id": "30002", "merchant_trans_id": order["number"] + "0",
               "amount": som(order["total"] + 100), "action": "1", "sign_time": "2026-12-02 13:45:01"}
    fields[field] = changed[field]
    if field == "action":
        fields["merchant_prepare_id"] = "1"
    assert store.click.post("/click/callback", fields)["error"] == -1


@pytest.mark.parametrize("field", [*SIGNED_FIELDS, "merchant_prepare_id"])
def test_a_complete_changed_in_any_signed_field_fails_the_signature(store: Store, field: str) -> None:
    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepare_id = store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"]
    fields = store.click.fields(1, trans, order["number"], amount, prepare_id=str(prepare_id))
    changed = {"click_trans_id": str(int(trans) + 1), "service_id": "30002",
               "merchant_trans_id": order["number"] + "0", "amount": som(order["total"] + 1), "action": "0",
               "sign_time": "2026-12-02 13:45:01", "merchant_prepare_id": str(prepare_id + 1)}
    fields[field] = changed[field]
    assert store.click.post("/click/callback", fields)["error"] == -1
    # Nothing was captured by any of them.
    assert store.events("payment.captured") == 0


def test_a_wrong_secret_or_a_missing_or_garbled_sign_string_is_minus_one(store: Store) -> None:
    order = store.order()
    click = store.click
    trans, amount = click.new_trans_id(), som(order["total"])
    assert click.prepare(trans, order["number"], amount, secret="not-the-secret")["error"] == -1
    fields = click.fields(0, trans, order["number"], amount)
    fields["sign_string"] = "zz" * 16
    assert click.post("/click/prepare", fields)["error"] == -1
    fields["sign_string"] = ""
    assert click.post("/click/prepare", fields)["error"] == -1
    # Upper-case hex is the same digest.
    fields["sign_string"] = sign(fields, SECRET).upper()
    assert click.post("/click/prepare", fields)["error"] == 0


@pytest.mark.parametrize("variant", ["{som}", "{som}.0", "{som}.00"])
def test_amounts_as_click_sends_them_are_the_same_amount(store: Store, variant: str) -> None:
    order = store.order(price=100_000)  # 1000 so'm; the flat shipping is whole so'm too
    total = order["total"]
    assert total % 100 == 0
    amount = variant.format(som=total // 100)
    click = store.click
    trans = click.new_trans_id()
    prepared = click.prepare(trans, order["number"], amount)
    assert prepared["error"] == 0
    # The signature is over the string exactly as sent, so Complete may use yet another spelling.
    assert click.complete(trans, order["number"], som(total), prepared["merchant_prepare_id"])["error"] == 0


@pytest.mark.parametrize("amount, code", [("0.01", -2), ("10.005", -2), ("1e5", -8), ("-100.00", -8),
                                          ("1,000.00", -8), ("", -8), ("abc", -8), ("1" * 40, -8),
                                          ("١٤٥٠٠٠", -8), ("１０００.００", -8)])
def test_amounts_that_cannot_be_the_orders(store: Store, amount: str, code: int) -> None:
    order = store.order()
    assert store.click.prepare(store.click.new_trans_id(), order["number"], amount)["error"] == code


def test_an_amount_one_tiyin_off_is_incorrect(store: Store) -> None:
    order = store.order()
    trans = store.click.new_trans_id()
    assert store.click.prepare(trans, order["number"], som(order["total"] - 1))["error"] == -2
    assert store.click.prepare(trans, order["number"], som(order["total"] + 1))["error"] == -2


@pytest.mark.parametrize("missing", ["click_trans_id", "service_id", "click_paydoc_id", "merchant_trans_id",
                                     "amount", "action", "error", "sign_time", "sign_string"])
def test_a_missing_field_is_minus_eight(store: Store, missing: str) -> None:
    order = store.order()
    fields = store.click.fields(0, store.click.new_trans_id(), order["number"], som(order["total"]))
    del fields[missing]
    assert store.click.post("/click/prepare", fields)["error"] == -8


def test_a_complete_without_merchant_prepare_id_is_minus_eight(store: Store) -> None:
    order = store.order()
    fields = store.click.fields(1, store.click.new_trans_id(), order["number"], som(order["total"]))
    assert store.click.post("/click/complete", fields)["error"] == -8


@pytest.mark.parametrize("field, value", [("click_trans_id", "abc"), ("click_trans_id", "-5"),
                                          ("click_trans_id", "9" * 30), ("click_trans_id", "0"),
                                          ("click_trans_id", "１２３"), ("click_paydoc_id", "٧"),
                                          ("service_id", "3.0"),
                                          ("action", "zero"), ("error", "x"), ("merchant_trans_id", "1" * 65),
                                          ("sign_time", "2" * 40), ("error_note", "n" * 600)])
def test_malformed_fields_are_minus_eight_never_a_500(store: Store, field: str, value: str) -> None:
    order = store.order()
    fields = store.click.fields(0, store.click.new_trans_id(), order["number"], som(order["total"]))
    fields[field] = value
    fields["sign_string"] = sign(fields) if field not in ("error", "error_note") else fields["sign_string"]
    body = store.click.post("/click/prepare", fields)
    assert body["error"] == -8
    assert isinstance(body["error_note"], str)


def test_another_service_id_is_refused_even_when_signed(store: Store) -> None:
    order = store.order()
    reply = store.click.prepare(store.click.new_trans_id(), order["number"], som(order["total"]),
                                service_id="30002")
    assert reply["error"] == -8


def test_bodies_that_are_not_a_click_form(store: Store) -> None:
    url = f"{store.url}/click/prepare"
    for response in (
        store.http.post(url, content=b""),
        store.http.post(url, json={"click_trans_id": 1}),
        store.http.post(url, content=b"\xff\xfe\x00garbage", headers={"content-type": "text/plain"}),
        store.http.post(url, content=b"a=" + b"x" * 10_000),
    ):
        assert response.status_code == 200
        assert response.json()["error"] == -8


def test_an_order_of_another_payment_method_or_an_order_id_is_not_a_click_account(store: Store) -> None:
    cash = place_order(store.http, store.url, add_product(store.toolbox), provider="cash_on_delivery")
    assert store.click.prepare(store.click.new_trans_id(), cash["number"], som(cash["total"]))["error"] == -5
    order = store.order()
    # The order's internal id is not its number: Click knows orders by number only.
    assert store.click.prepare(store.click.new_trans_id(), order["id"], som(order["total"]))["error"] == -5
    assert store.click.prepare(store.click.new_trans_id(), " ", som(order["total"]))["error"] == -8


def test_a_huge_body_is_refused_without_being_read(store: Store) -> None:
    # Past the store-wide request limit too, Click's own cap answers in Click's shape (the kernel
    # leaves routes with their own error shape to answer it).
    response = store.http.post(f"{store.url}/click/prepare", content=b"0" * 5_000_000)
    assert (response.status_code, response.json()["error"]) == (200, -8)
    # A streamed body with no length passes Click's 4 KB cap: the same answer.

    def chunks():
        for _ in range(100):
            yield b"a" * 1000

    streamed = store.http.post(f"{store.url}/click/complete", content=chunks())
    assert (streamed.status_code, streamed.json()["error"]) == (200, -8)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_nul_in_any_field_is_minus_eight_on_every_database(make_store, database: str) -> None:
    """PostgreSQL text cannot hold a NUL: before, such a field became -7 there and -5 on SQLite."""
    store = make_store(database=database)
    order = store.order()
    for field, value in (("merchant_trans_id", order["number"] + "\x00"), ("error_note", "Success\x00")):
        fields = store.click.fields(0, store.click.new_trans_id(), order["number"], som(order["total"]))
        fields[field] = value
        fields["sign_string"] = sign(fields)
        assert store.click.post("/click/prepare", fields)["error"] == -8, field

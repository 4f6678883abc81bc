"""The Payme sandbox checklist (spec §1.8), both scenarios in order, through the real HTTP endpoint
of a served store; each mutating call is sent twice and must be answered identically."""

from __future__ import annotations

import base64
import time

import pytest

from tests.fakes.payme import now_ms, payme_id
from toolbox_core.api import is_local

ACCOUNT_ERRORS = range(-31099, -31049)


def test_scenario_1_security_checks_then_create_and_cancel_an_unconfirmed_transaction(store):
    payme = store.payme
    order = store.order()
    number, total = order["number"], order["total"]

    # 1. Invalid authorization, on every implemented method.
    wrong = [None, payme.auth_header(key="x" * 36), payme.auth_header(login="Payme"),
             "Bearer " + payme.key, "Basic !!!not-base64", payme.auth_header(key=store.settings["key"])]
    for authorization in wrong:
        for method in ("CheckPerformTransaction", "CreateTransaction", "PerformTransaction", "CancelTransaction",
                       "CheckTransaction", "GetStatement", "SetFiscalData", "ChangePassword"):
            reply = payme.call(method, {"amount": total, "account": payme.account(number)},
                               authorization=authorization)
            assert reply.code == -32504, (authorization, method, reply)

    # 2–3. Existing order, wrong amount (one tiyin off either way).
    for amount in (total - 1, total + 1):
        assert payme.check_perform(number, amount).code == -31001
        assert payme.create(payme_id(), number, amount).code == -31001

    # 4–5. Unknown order, correct amount: an account error naming the account field.
    for reply in (payme.check_perform("999999", total), payme.create(payme_id(), "999999", total)):
        assert reply.code in ACCOUNT_ERRORS
        assert reply.error["data"] == "order_id"
        assert set(reply.error["message"]) == {"ru", "uz", "en"}

    # 6. A valid order and amount.
    allowed = payme.check_perform(number, total)
    assert allowed.result["allow"] is True

    # 7–8. Create, and the repeat gives the identical result.
    tx = payme_id()
    created = payme.create(tx, number, total, at=now_ms(), repeat=True)
    assert created.result["state"] == 1
    assert isinstance(created.result["transaction"], str) and len(str(created.result["create_time"])) == 13
    assert set(created.result) <= {"create_time", "transaction", "state", "receivers"}

    # 9. CheckTransaction.
    checked = payme.check_transaction(tx).result
    assert checked == {"create_time": created.result["create_time"], "perform_time": 0, "cancel_time": 0,
                       "transaction": created.result["transaction"], "state": 1, "reason": None}

    # 10. A new id for the same order, still awaiting payment.
    assert payme.create(payme_id(), number, total).code == -31008

    # 11. Cancel the unconfirmed transaction (twice, identical).
    canceled = payme.cancel(tx, 3, repeat=True)
    assert canceled.result["state"] == -1
    assert canceled.result["transaction"] == created.result["transaction"]
    assert canceled.result["cancel_time"] >= created.result["create_time"]

    # 12. CheckTransaction after the cancel.
    assert payme.check_transaction(tx).result == {
        "create_time": created.result["create_time"], "perform_time": 0,
        "cancel_time": canceled.result["cancel_time"], "transaction": created.result["transaction"],
        "state": -1, "reason": 3}
    # The store cancelled the order and released its stock.
    seen = store.get_order(order["id"])
    assert (seen["status"], seen["payment_status"]) == ("canceled", "canceled")
    # A performed cancelled transaction cannot be performed any more.
    assert payme.perform(tx).code == -31008


def test_scenario_2_create_perform_then_cancel_a_confirmed_transaction(store):
    payme = store.payme
    order = store.order(quantity=2)
    number, total = order["number"], order["total"]

    # 13. The same checks as 6–10 on a fresh order.
    assert payme.check_perform(number, total).result["allow"] is True
    tx = payme_id()
    created = payme.create(tx, number, total, repeat=True)
    assert created.result["state"] == 1
    assert payme.check_transaction(tx).result["state"] == 1
    assert payme.create(payme_id(), number, total).code == -31008

    # 14–15. Perform, twice: the same perform_time.
    performed = payme.perform(tx, repeat=True)
    assert performed.result["state"] == 2
    assert performed.result["transaction"] == created.result["transaction"]
    assert len(str(performed.result["perform_time"])) == 13
    time.sleep(0.01)
    assert payme.perform(tx).result == performed.result

    # 16. CheckTransaction after perform.
    assert payme.check_transaction(tx).result == {
        "create_time": created.result["create_time"], "perform_time": performed.result["perform_time"],
        "cancel_time": 0, "transaction": created.result["transaction"], "state": 2, "reason": None}
    paid = store.get_order(order["id"])
    assert (paid["status"], paid["payment_status"]) == ("placed", "paid")

    # 17. Cancel the performed transaction (a refund), twice.
    refunded = payme.cancel(tx, 5, repeat=True)
    assert refunded.result["state"] == -2
    assert refunded.result["cancel_time"] >= performed.result["perform_time"]

    # 18. CheckTransaction after the refund.
    assert payme.check_transaction(tx).result == {
        "create_time": created.result["create_time"], "perform_time": performed.result["perform_time"],
        "cancel_time": refunded.result["cancel_time"], "transaction": created.result["transaction"],
        "state": -2, "reason": 5}
    after = store.get_order(order["id"])
    assert after["payment_status"] == "refunded"
    assert after["status"] == "canceled"
    assert len(store.outbox("payment.refunded")) == 1


def test_unknown_transaction_ids_are_31003(store):
    payme = store.payme
    unknown = payme_id()
    assert payme.perform(unknown).code == -31003
    assert payme.cancel(unknown, 1).code == -31003
    assert payme.check_transaction(unknown).code == -31003


def test_protocol_errors_are_http_200_json_rpc_errors(store):
    payme = store.payme
    unknown = payme.call("GetBalance", {})
    assert (unknown.code, unknown.error["data"]) == (-32601, "GetBalance")
    assert payme.raw(b'{"method": "CheckTransaction", "params": ').code == -32700
    assert payme.raw(b"\xff\xfe not utf-8").code == -32700
    for http_method in ("GET", "PUT", "DELETE"):
        assert payme.raw(b"", http_method=http_method).code == -32300
    assert payme.raw(b'["a", "list"]').code == -32600
    assert payme.raw(b'{"params": {}, "id": 5}').code == -32600
    assert payme.raw(b'{"method": "CheckTransaction", "params": [], "id": 5}').code == -32600
    assert payme.raw(b"x" * 200_000).code in (-32600, -32700)
    assert payme.call("CheckTransaction", {"id": 42}).code == -32600
    assert payme.call("CheckTransaction", {"id": "a" * 65}).code == -32600
    assert payme.call("CancelTransaction", {"id": payme_id(), "reason": 7}).code == -32600
    assert payme.call("GetStatement", {"from": "yesterday", "to": now_ms()}).code == -32600
    for amount in (0, -100, 10.5, "1000", True, None):
        assert payme.call("CheckPerformTransaction", {"amount": amount, "account": payme.account("1001")}).code \
            == -31001
    for missing in ({}, {"account": payme.account("1001")}, {"amount": 100}):  # a required field absent
        assert payme.call("CheckPerformTransaction", missing).code == -32600
    assert payme.raw(b'{"method": "CheckPerformTransaction", "id": 7}').code == -32600  # no params at all
    for account in ({}, {"phone": "901234567"}, {"order_id": ""}, {"order_id": "1" * 50}, "1001", None):
        reply = payme.call("CheckPerformTransaction", {"amount": 100, "account": account})
        assert (reply.code, reply.error["data"]) == (-31050, "order_id")
    # An order's internal id is not an account value the payer can type.
    order = store.order()
    assert payme.check_perform(order["id"], order["total"]).code == -31050


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_odd_bodies_get_the_same_json_rpc_answer_on_every_database(make_payme_store, database):
    """A NUL in any string, JSON nested thousands deep, a body past the kernel's 1 MB limit and
    an OPTIONS request are answered in JSON-RPC with HTTP 200 (never a 413 or 405 in the
    store API's shape, never a -32400 system error), alike on SQLite and PostgreSQL."""
    payme = make_payme_store(database=database).payme
    assert payme.call("CheckPerformTransaction", {"amount": 100, "account": payme.account("10\x0001")}).code \
        == -32600
    assert payme.call("CheckTransaction", {"id": "6a1e\x00"}).code == -32600
    assert payme.call("ChangePassword", {"password": "new\x00key"}).code == -32600
    nested = b'{"method": "CheckTransaction", "params": {"id": ' + b"[" * 5000 + b"]" * 5000 + b'}, "id": 1}'
    assert payme.raw(nested).code == -32700
    assert payme.raw(b"x" * 1_100_000).code == -32600
    assert payme.raw(b"", http_method="OPTIONS").code == -32300
    head = payme.http.head(payme.url)
    assert head.status_code == 200  # a HEAD answer carries no body


def test_the_request_id_is_echoed_as_sent_and_an_id_json_rpc_does_not_allow_is_32600(store):
    """JSON-RPC 2.0: an id is a string, a number or null, and the reply carries the same value;
    numbers "SHOULD NOT" be fractional, which makes 1.5 unusual, not invalid."""
    payme = store.payme
    unknown = payme_id()

    def sent(request_id: bytes):
        return payme.raw(b'{"method": "CheckTransaction", "params": {"id": "%s"}, "id": %s}'
                         % (unknown.encode(), request_id))

    for request_id, echoed in ((b"1.5", 1.5), (b"7", 7), (b'"req-7"', "req-7"), (b"1e3", 1000.0)):
        reply = sent(request_id)
        assert (reply.code, reply.id) == (-31003, echoed), request_id  # answered, with its id
    # A boolean, an object or a list is no id; neither is a number JSON cannot write back.
    for request_id in (b"true", b"[1]", b'{"n": 1}', b"1e400"):
        reply = sent(request_id)
        assert (reply.code, reply.id) == (-32600, None), request_id
    order = store.order()
    created = payme.raw(b'{"method": "CreateTransaction", "params": {"id": "%s", "time": %d, "amount": %d, '
                        b'"account": {"order_id": "%s"}}, "id": [2]}'
                        % (payme_id().encode(), now_ms(), order["total"], order["number"].encode()))
    assert created.code == -32600
    assert store.get_order(order["id"])["payment_status"] == "awaiting"  # nothing was done


def test_transaction_ids_are_visible_ascii_of_at_most_64_characters(store):
    """Payme's ids are 24 hex characters (its ID type); any visible ASCII up to 64 is taken, and
    anything else is -32600 on every method that names a transaction, before any lookup."""
    payme = store.payme
    order = store.order()
    garbage = ["", " ", "5305e3bab097f420 62ced0b", "5305e3bab097f420a62ced0b\n", "\t5305e3bab097f420a62ced0b",
               "5305е3bab097f420a62ced0b",  # a Cyrillic е
               "５３０５e3bab097f420a62ced0b", "a" * 65, "\x7f" * 24]
    for bad in garbage:
        assert payme.create(bad, order["number"], order["total"]).code == -32600, repr(bad)
        for method, params in (("PerformTransaction", {"id": bad}), ("CancelTransaction", {"id": bad, "reason": 3}),
                               ("CheckTransaction", {"id": bad}),
                               ("SetFiscalData", {"id": bad, "type": "PERFORM", "fiscal_data": {}})):
            reply = payme.call(method, params)
            assert (reply.code, reply.error["data"]) == (-32600, "id"), (method, repr(bad))
    assert store.get_order(order["id"])["payment_status"] == "awaiting"
    # Payme's own form, and the longest other id taken.
    assert payme.create("5305e3bab097f420a62ced0b", order["number"], order["total"]).result["state"] == 1
    assert payme.check_transaction("x-" + "Z" * 62).code == -31003
    # A wrong key is still told so first, whatever the id.
    assert payme.call("CheckTransaction", {"id": " "}, authorization=payme.auth_header(key="x" * 36)).code == -32504


def test_create_transaction_time_is_a_13_digit_millisecond_timestamp(store):
    """Payme's Timestamp type is a positive 13-digit integer; seconds (10 digits), microseconds
    (16) or nonsense are -32600. A 13-digit time ahead of our clock is taken: the protocol names
    no error for it, and our clock may be behind Payme's (see merchant.PAYME_TIME_MIN)."""
    payme = store.payme
    order = store.order()
    seconds = now_ms() // 1000
    for bad in (seconds, seconds * 1_000_000, 10**13, 999_999_999_999, 0, -now_ms(), 1.5e12, "1764680000000", None):
        reply = payme.call("CreateTransaction", {"id": payme_id(), "time": bad, "amount": order["total"],
                                                 "account": payme.account(order["number"])})
        assert (reply.code, reply.error["data"]) == (-32600, "time"), bad
    assert store.get_order(order["id"])["payment_status"] == "awaiting"
    ahead = now_ms() + 60_000  # a minute ahead of us
    assert payme.create(payme_id(), order["number"], order["total"], at=ahead).result["state"] == 1


def test_an_expired_created_transaction_is_cancelled_with_reason_4(store):
    payme = store.payme
    order = store.order()
    tx = payme_id()
    # Payme created it 12 h minus 1.5 s ago: it expires while we wait.
    at = now_ms() - 43_200_000 + 1_500
    created = payme.create(tx, order["number"], order["total"], at=at)
    assert created.result["state"] == 1
    time.sleep(2)
    assert payme.perform(tx).code == -31008
    assert payme.create(tx, order["number"], order["total"], at=at).code == -31008
    checked = payme.check_transaction(tx).result
    assert (checked["state"], checked["reason"], checked["perform_time"]) == (-1, 4, 0)
    assert checked["cancel_time"] > 0
    assert store.get_order(order["id"])["status"] == "canceled"
    # A transaction Payme created more than 12 h ago is refused outright.
    other = store.order()
    assert payme.create(payme_id(), other["number"], other["total"], at=now_ms() - 43_200_001).code == -31008


def test_get_statement_lists_by_payme_time_inclusive_and_ascending(store):
    payme = store.payme
    base = now_ms() - 60_000
    made = []
    for offset in (3_000, 1_000, 2_000):  # created out of order on purpose
        order = store.order()
        tx = payme_id()
        payme.create(tx, order["number"], order["total"], at=base + offset)
        made.append((base + offset, tx, order))
    payme.perform(made[1][1])
    statement = payme.statement(base + 1_000, base + 3_000).result["transactions"]
    assert [(t["time"], t["id"]) for t in statement] == sorted((at, tx) for at, tx, _ in made)
    first = next(t for t in statement if t["id"] == made[1][1])
    assert (first["state"], first["amount"], first["account"]) == (2, made[1][2]["total"],
                                                                    {"order_id": made[1][2]["number"]})
    assert set(first) >= {"id", "time", "amount", "account", "create_time", "perform_time", "cancel_time",
                          "transaction", "state", "reason"}
    # Both ends inclusive; outside is empty.
    assert len(payme.statement(base + 1_000, base + 1_000).result["transactions"]) == 1
    assert payme.statement(base + 3_001, base + 9_000).result["transactions"] == []
    # `from` after `to` selects no time (from <= time <= to): an empty period, not an error.
    assert payme.statement(base + 3_000, base + 1_000).result == {"transactions": []}


def test_set_fiscal_data_is_stored_per_type_and_shown_to_the_admin(store):
    payme = store.payme
    order = store.order()
    tx = payme_id()
    payme.create(tx, order["number"], order["total"])
    payme.perform(tx)
    fiscal = {"receipt_id": 2001, "status_code": 0, "message": "accepted", "terminal_id": "EP000000000025",
              "fiscal_sign": "123456789012", "qr_code_url": "https://ofd.soliq.uz/check?t=EP&r=2001",
              "date": "20261202145030"}
    assert payme.set_fiscal_data(tx, "PERFORM", fiscal).result == {"success": True}
    assert payme.set_fiscal_data(tx, "REFUND", fiscal).code == -32600
    assert payme.set_fiscal_data(payme_id(), "PERFORM", fiscal).code == -32001
    view = store.http.get(f"/admin/payme/transactions/{tx}", headers=store.admin("payments:read")).json()
    assert (view["fiscal_perform"], view["fiscal_cancel"]) == (fiscal, None)


def test_change_password_switches_the_key_for_every_process(store, serve_fake):
    from tests.fakes.payme import PaymeClient
    from toolbox_core.api import Toolbox
    from toolbox_core.testing.shop import store_app

    payme = store.payme
    refused = payme.change_password("")
    assert (refused.code, refused.error["data"], refused.error["message"]["en"]) == \
        (-31050, "password", "Invalid new password")  # the template's code, not "Order not found"
    assert payme.change_password(payme.key).code == -32504  # the same key again
    new_key = "newKEY-0123456789abcdefghijklmnopqrs"
    assert payme.change_password(new_key).result == {"success": True}
    assert payme.check_transaction(payme_id()).code == -32504  # the old key no longer works
    assert store.client(new_key).check_transaction(payme_id()).code == -31003

    # Another API process (its own toolbox and app on the same database) checks the same key.
    second = Toolbox.create(store.toolbox.settings, plugin_settings={"payme": store.settings})
    try:
        other = PaymeClient(serve_fake(store_app(second)), new_key)
        assert other.check_transaction(payme_id()).code == -31003
        other.close()
    finally:
        second.close()


def test_the_production_key_is_refused_in_test_mode_and_the_test_key_in_production(make_payme_store):
    from tests.fakes.payme import PaymeClient

    sandbox = make_payme_store()
    production = sandbox.client(sandbox.settings["key"])
    assert production.check_transaction(payme_id()).code == -32504
    live = make_payme_store(test_mode=False)
    assert live.payme.check_transaction(payme_id()).code == -31003
    tester = PaymeClient(live.url, sandbox.settings["test_key"])
    try:
        assert tester.check_transaction(payme_id()).code == -32504
    finally:
        tester.close()


def test_the_checkout_redirect_carries_merchant_account_amount_language_and_return_url(store):
    order = store.order(locale="uz")
    url = order["action"]["url"]
    assert url.startswith("https://test.paycom.uz/")
    decoded = base64.b64decode(url.rsplit("/", 1)[1]).decode()
    assert decoded == (f"m={store.settings['merchant_id']};ac.order_id={order['number']};a={order['total']};"
                       "l=uz;c=https://shop.uz/thanks")
    assert is_local(store.toolbox.payment_providers["payme"], "initiate")  # built here: started on the event loop


def test_calls_from_outside_the_allowed_networks_are_refused(make_payme_store):
    outside = make_payme_store(allowed_networks="185.234.113.0/28")
    assert outside.payme.check_transaction(payme_id()).code == -32504
    inside = make_payme_store(allowed_networks=["185.234.113.0/28", "127.0.0.0/8"])
    assert inside.payme.check_transaction(payme_id()).code == -31003


def test_the_keys_never_appear_in_settings_output(store):
    settings = store.toolbox.plugin_settings("payme")
    shown = f"{settings!r} {settings.model_dump()}"
    assert store.settings["key"] not in shown and store.settings["test_key"] not in shown



@pytest.mark.parametrize("field", ["key", "test_key"])
def test_an_empty_key_is_refused_in_the_settings_not_matched_by_an_empty_password(field):
    from pydantic import ValidationError
    from toolbox_payme.settings import PaymeSettings

    values = {"merchant_id": "5e730e8e0b852a417aa49ceb", "key": "production-key-0123456789",
              "test_key": "sandbox-key-0123456789"}
    with pytest.raises(ValidationError) as refused:  # so the plugin, and `toolbox serve`, do not start
        PaymeSettings(**{**values, field: ""})
    assert refused.value.errors()[0]["loc"] == (field,)


def test_a_callback_with_an_empty_password_is_refused(store):
    empty = base64.b64encode(b"Paycom:").decode()
    assert store.payme.call("CheckTransaction", {"id": payme_id()}, authorization=f"Basic {empty}").code == -32504

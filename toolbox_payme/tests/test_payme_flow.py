"""Payme wired into the store: the whole flow from the store API, a changed total, refunds from
the admin, the admin views (by UTC day or time), concurrency on PostgreSQL, and the plugin's migrations."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.fakes.payme import PaymeClient, now_ms, payme_id


def _stock(store, variant_id: str) -> tuple[int, int]:
    with store.toolbox.db.session() as session:
        row = session.execute(text(
            "SELECT sum(l.stocked), sum(l.reserved) FROM inventory_levels l JOIN product_variants v "
            "ON v.sku = l.sku WHERE v.id = :v"), {"v": variant_id}).one()
    return int(row[0]), int(row[1])


def test_the_whole_flow_from_the_store_api_to_a_paid_order(store):
    order = store.order(quantity=2, stock=3)
    assert order["status"] == "pending_payment"
    # The storefront sends the payer to the Payme checkout for this order.
    link = order["action"]["url"]
    params = dict(part.split("=", 1) for part in base64.b64decode(link.rsplit("/", 1)[1]).decode().split(";"))
    assert (params["ac.order_id"], int(params["a"])) == (order["number"], order["total"])
    assert _stock(store, order["variant_id"]) == (3, 2)

    # Payme's calls, as the payer pays.
    payme = store.payme
    check = payme.check_perform(params["ac.order_id"], int(params["a"]))
    assert check.result["allow"] is True
    detail = check.result["detail"]
    assert detail["receipt_type"] == 0
    assert detail["items"] == [{"title": "Дрель — 18 V", "price": 1_500_000, "count": 2,
                                "code": "00702001001000001", "package_code": "1234", "vat_percent": 12,
                                "discount": 0}]
    assert detail["shipping"] == {"title": "Курьер", "price": 2_500_000}
    assert sum(i["price"] * i["count"] - i["discount"] for i in detail["items"]) + detail["shipping"]["price"] \
        == order["total"]
    tx = payme_id()
    payme.create(tx, order["number"], order["total"], repeat=True)
    waiting = store.get_order(order["id"])
    assert (waiting["status"], waiting["payment_status"]) == ("pending_payment", "authorized")
    payme.perform(tx, repeat=True)

    paid = store.get_order(order["id"])
    assert (paid["status"], paid["payment_status"]) == ("placed", "paid")
    assert _stock(store, order["variant_id"]) == (1, 0)
    captured = store.outbox("payment.captured")
    assert len(captured) == 1
    assert (captured[0]["number"], captured[0]["total"], captured[0]["provider_id"]) == \
        (order["number"], order["total"], "payme")
    # The customer sees it paid too.
    mine = store.http.get(f"/store/orders/{order['id']}", params={"phone": "+998901234567"}).json()
    assert mine["payment_status"] == "paid"


def test_an_order_whose_total_changed_after_create_cannot_be_paid_with_the_old_amount(store):
    order = store.order()
    tx = payme_id()
    assert store.payme.create(tx, order["number"], order["total"]).result["state"] == 1
    with store.toolbox.db.transaction() as session:  # staff corrected the order's total meanwhile
        session.execute(text("UPDATE orders SET total = total + 100 WHERE id = :o"), {"o": order["id"]})
        session.execute(text("UPDATE payments SET amount = amount + 100 WHERE order_id = :o"), {"o": order["id"]})
    assert store.payme.perform(tx).code == -31008
    assert store.payme.check_transaction(tx).result["state"] == 1
    assert store.get_order(order["id"])["payment_status"] == "authorized"
    assert store.payme.check_perform(order["number"], order["total"]).code == -31001


def test_a_performed_payment_of_a_delivered_order_cannot_be_cancelled(store):
    order = store.order()
    tx = payme_id()
    store.payme.create(tx, order["number"], order["total"])
    store.payme.perform(tx)
    headers = store.admin("orders:write")
    assert store.http.post(f"/admin/orders/{order['id']}/fulfill", headers=headers).status_code == 200
    assert store.http.post(f"/admin/orders/{order['id']}/deliver", headers=headers).status_code == 200
    assert store.payme.cancel(tx, 5).code == -31007
    assert store.payme.check_transaction(tx).result["state"] == 2


def test_never_cancel_performed_answers_31007(make_payme_store):
    store = make_payme_store(cancel_performed="never")
    order = store.order()
    tx = payme_id()
    store.payme.create(tx, order["number"], order["total"])
    store.payme.perform(tx)
    assert store.payme.cancel(tx, 5).code == -31007


def test_admin_cancel_of_a_paid_payme_order_records_a_refund_request_then_payme_completes_it(store):
    order = store.order()
    tx = payme_id()
    store.payme.create(tx, order["number"], order["total"])
    store.payme.perform(tx)
    canceled = store.http.post(f"/admin/orders/{order['id']}/cancel", headers=store.admin("orders:write"))
    assert canceled.status_code == 200, canceled.text
    assert (canceled.json()["status"], canceled.json()["payment_status"]) == ("canceled", "refund_pending")
    # The merchant starts the refund in the Payme cabinet; Payme calls CancelTransaction.
    assert store.payme.cancel(tx, 5).result["state"] == -2
    assert store.get_order(order["id"])["payment_status"] == "refunded"


def test_a_perform_after_the_order_was_cancelled_is_refused_so_no_money_is_taken(store):
    order = store.order()
    tx = payme_id()
    store.payme.create(tx, order["number"], order["total"])
    store.http.post(f"/admin/orders/{order['id']}/cancel", headers=store.admin("orders:write"))
    assert store.payme.perform(tx).code == -31008
    assert store.payme.cancel(tx, 3).result["state"] == -1


def test_an_order_paid_on_delivery_is_not_payable_through_payme(store):
    order = store.order(provider="cash_on_delivery")
    reply = store.payme.check_perform(order["number"], order["total"])
    assert (reply.code, reply.error["data"]) == (-31050, "order_id")


def test_a_configured_account_field_is_used_everywhere(make_payme_store):
    store = make_payme_store(account_field="invoice")
    order = store.order()
    assert "ac.invoice=" in base64.b64decode(order["action"]["url"].rsplit("/", 1)[1]).decode()
    assert store.payme.check_perform(order["number"], order["total"]).result["allow"] is True
    wrong = PaymeClient(store.url, store.payme.key)  # sends order_id
    try:
        reply = wrong.check_perform(order["number"], order["total"])
        assert (reply.code, reply.error["data"]) == (-31050, "invoice")
    finally:
        wrong.close()


def test_the_admin_lists_and_views_payme_transactions(store):
    orders = [store.order() for _ in range(3)]
    ids = []
    for order in orders:
        tx = payme_id()
        store.payme.create(tx, order["number"], order["total"])
        ids.append(tx)
    store.payme.perform(ids[0])
    headers = store.admin("payments:read")  # payment records, as the Click list
    listed = store.http.get("/admin/payme/transactions", headers=headers).json()
    assert listed["total"] == 3
    by_order = store.http.get("/admin/payme/transactions", params={"order": orders[0]["number"]},
                              headers=headers).json()
    assert [t["id"] for t in by_order["items"]] == [ids[0]]
    by_state = store.http.get("/admin/payme/transactions", params={"state": 1}, headers=headers).json()
    assert sorted(t["id"] for t in by_state["items"]) == sorted(ids[1:])
    one = store.http.get(f"/admin/payme/transactions/{ids[0]}", headers=headers).json()
    assert (one["state"], one["order_number"]) == (2, orders[0]["number"])
    assert store.http.get("/admin/payme/transactions/nope", headers=headers).status_code == 404
    assert store.http.get("/admin/payme/transactions", params={"state": 9}, headers=headers).status_code == 422
    assert store.http.get("/admin/payme/transactions", params={"limit": 10_000}, headers=headers).status_code == 422
    assert store.http.get("/admin/payme/transactions").status_code == 401
    orders_only = store.admin("orders:read")
    assert store.http.get("/admin/payme/transactions", headers=orders_only).status_code == 403
    assert store.http.get(f"/admin/payme/transactions/{ids[0]}", headers=orders_only).status_code == 403
    assert store.http.get("/admin/payme/transactions", headers=store.admin("payments:write")).status_code == 200


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_admin_lists_payme_transactions_by_utc_day_or_inclusive_time(make_payme_store, database):
    from toolbox_payme.models import PaymeTransaction

    store = make_payme_store(database=database)
    moments = [datetime(2026, 12, 2, 23, 30, tzinfo=UTC), datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
               datetime(2026, 12, 4, 0, 0, tzinfo=UTC)]
    ids = []
    for moment in moments:
        order, tx = store.order(), payme_id()
        store.payme.create(tx, order["number"], order["total"])
        with store.toolbox.db.transaction() as session:
            session.query(PaymeTransaction).filter_by(payme_id=tx).one().created_at = moment
        ids.append(tx)
    eve, morning, next_day = ids
    headers = store.admin("payments:read")

    def listed(**params: str) -> set[str]:
        response = store.http.get("/admin/payme/transactions", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {t["id"] for t in response.json()["items"]}

    assert listed(to="2026-12-03") == {eve, morning}  # the whole day named
    assert listed(**{"from": "2026-12-03", "to": "2026-12-03"}) == {morning}
    assert listed(**{"from": "2026-12-03T10:00:00"}) == {morning, next_day}  # naive: UTC, inclusive
    assert listed(to="2026-12-03T15:00:00+05:00") == {eve, morning}  # 10:00Z, inclusive
    assert listed(to="2026-12-03T14:59:59+05:00") == {eve}
    backwards = store.http.get("/admin/payme/transactions", params={"from": "2026-12-04", "to": "2026-12-03"},
                               headers=headers)
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (422, "invalid_input")
    garbage = store.http.get("/admin/payme/transactions", params={"to": "03.12.2026"}, headers=headers)
    assert garbage.status_code == 422
    assert garbage.json()["error"]["details"]["fields"][0]["loc"] == ["query", "to"]
    twice = store.http.get("/admin/payme/transactions?from=2026-12-03&from=2026-12-04", headers=headers)
    assert (twice.status_code, twice.json()["error"]["code"]) == (422, "invalid_input")
    assert twice.json()["error"]["details"]["fields"][0]["loc"] == ["query", "from"]


@pytest.mark.postgres
def test_concurrent_duplicate_create_transactions_give_one_transaction_and_identical_answers(make_payme_store):
    store = make_payme_store(database="postgres")
    order = store.order()
    tx = payme_id()
    params = {"id": tx, "time": now_ms(), "amount": order["total"], "account": {"order_id": order["number"]}}
    clients = [store.client(store.payme.key) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda c: c.call("CreateTransaction", params), clients))
    assert {(r.code, repr(r.result)) for r in replies} == {(None, repr(replies[0].result))}
    # Different ids racing for the same order: exactly one wins, the rest are -31008.
    other = store.order()
    racing = [{"id": payme_id(), "time": params["time"], "amount": other["total"],
               "account": {"order_id": other["number"]}} for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda pair: pair[0].call("CreateTransaction", pair[1]), zip(clients, racing, strict=True)))
    assert sorted(r.code or 0 for r in outcomes) == [-31008] * 7 + [0]
    with store.toolbox.db.session() as session:
        counts = dict(session.execute(text("SELECT order_id, count(*) FROM payme_transactions GROUP BY order_id")).all())
    assert counts == {order["id"]: 1, other["id"]: 1}
    assert len(store.outbox("payment.authorized")) == 2


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_payme_models_agree_with_payme_migrations(make_toolbox, database):
    from toolbox_core.testing.shop import model_differences

    toolbox = make_toolbox(plugins=["payme"], plugin_settings={"payme": {"merchant_id": "m", "key": "k"}},
                           database=database)
    assert model_differences(toolbox, {"payme_transactions", "payme_credentials"}) == []


def test_doctor_checks_report_mode_key_and_tables(store):
    from toolbox_payme.plugin import doctor_checks

    checks = {c.name: c for c in doctor_checks(store.toolbox)}
    assert checks["payme: tables"].ok and checks["payme: key"].ok
    assert checks["payme: tables"].message == "payme_transactions, payme_credentials migrated"
    assert "test mode" in checks["payme: mode"].message
    assert "/payme/callback" in checks["payme: callback"].message
    assert all(store.settings["test_key"] not in c.message for c in checks.values())


def test_doctor_checks_the_configured_key_even_before_migration(store, tmp_path):
    from toolbox_payme.plugin import doctor_checks

    from toolbox_core.api import Toolbox

    unmigrated = store.toolbox.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
    no_test_key = {**store.settings, "test_key": None}
    toolbox = Toolbox.create(unmigrated, plugin_settings={"payme": no_test_key})
    try:
        checks = {c.name: c for c in doctor_checks(toolbox)}
    finally:
        toolbox.close()
    assert not checks["payme: tables"].ok
    assert checks["payme: tables"].message == ("payme_transactions, payme_credentials are missing: "
                                               "run toolbox migrate")
    assert not checks["payme: key"].ok and "TOOLBOX_PAYME__TEST_KEY" in checks["payme: key"].message

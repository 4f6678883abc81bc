"""The whole flow from the store API, refunds through the Merchant API (admin cancel, and money
taken after the order was canceled), invoices, the admin listing (by UTC day or time), doctor and the schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from click_testkit import MERCHANT_ID, SERVICE_ID, Store, som
from sqlalchemy import text

from tests.fakes.click import FakeClick
from toolbox_click import plugin
from toolbox_core.api import is_local
from toolbox_core.testing.shop import model_differences


def pay(store: Store, order: dict, *, fake: FakeClick | None = None) -> tuple[str, int]:
    """Click's Prepare and Complete for ``order``; returns (click_trans_id, merchant_prepare_id)."""
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepared = store.click.prepare(trans, order["number"], amount)
    assert prepared["error"] == 0
    if fake is not None:
        fake.add_payment(int(trans), order["number"], amount)
    assert store.click.complete(trans, order["number"], amount, prepared["merchant_prepare_id"])["error"] == 0
    return trans, prepared["merchant_prepare_id"]


def admin_order(store: Store, order_id: str) -> dict:
    response = store.http.get(f"{store.url}/admin/orders/{order_id}", headers=store.admin("orders:read"))
    assert response.status_code == 200
    return response.json()


def test_cart_to_paid_order_through_click(store: Store) -> None:
    order = store.order(price=1_234_567, quantity=2, return_url="https://shop.example/thanks")
    assert order["total"] == 2 * 1_234_567 + 2_500_000
    action = order["action"]
    assert action["kind"] == "redirect"
    url = urlsplit(action["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "my.click.uz", "/services/pay")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["service_id"] == str(SERVICE_ID) and query["merchant_id"] == str(MERCHANT_ID)
    assert query["amount"] == "49691.34"  # so'm, N.NN, from integer tiyin
    assert query["transaction_param"] == order["number"]
    assert query["return_url"] == "https://shop.example/thanks"
    assert is_local(store.toolbox.payment_providers["click"], "initiate")  # built here: started on the event loop

    trans, amount = store.click.new_trans_id(), query["amount"]
    prepared = store.click.prepare(trans, query["transaction_param"], amount)
    assert prepared["error"] == 0
    held = admin_order(store, order["id"])
    assert (held["status"], held["payment_status"]) == ("pending_payment", "authorized")

    done = store.click.complete(trans, order["number"], amount, prepared["merchant_prepare_id"])
    assert done["error"] == 0
    paid = admin_order(store, order["id"])
    assert (paid["status"], paid["payment_status"]) == ("placed", "paid")
    assert store.events("payment.captured") == 1
    assert store.click.complete(trans, order["number"], amount, prepared["merchant_prepare_id"])["error"] == -4
    assert store.events("payment.captured") == 1


def test_a_cancelled_complete_releases_the_order_and_its_stock(store: Store) -> None:
    order = store.order(stock=1)
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepare_id = store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"]
    # The only unit is held: nobody else can buy it.
    second = store.http.post(f"{store.url}/store/carts", json={"locale": "ru"}).json()["id"]
    variant = admin_order(store, order["id"])["items"][0]["variant_id"]
    assert store.http.post(f"{store.url}/store/carts/{second}/lines",
                           json={"variant_id": variant, "quantity": 1}).status_code == 409
    assert store.click.complete(trans, order["number"], amount, prepare_id, error="-5017")["error"] == -9
    assert admin_order(store, order["id"])["status"] == "canceled"
    assert store.http.post(f"{store.url}/store/carts/{second}/lines",
                           json={"variant_id": variant, "quantity": 1}).status_code == 200


def test_a_prepare_that_carries_a_click_error_is_minus_nine_and_changes_nothing(store: Store) -> None:
    """Click's rule for an error it sends (error < 0): "cancel the payment in our billing and
    answer -9". At Prepare nothing of ours exists yet: no attempt is recorded, nothing is
    authorized, the order stays reserved and payable, and a sound attempt then pays it."""
    order = store.order()
    click, amount = store.click, som(order["total"])
    failed = click.new_trans_id()
    for error in ("-1", "-5017"):
        body = click.prepare(failed, order["number"], amount, error=error, error_note="Card declined")
        assert (body["error"], body["merchant_prepare_id"]) == (-9, None)
    # The usual checks still come first: the order (-5), then the amount (-2).
    assert click.prepare(failed, "99999999", amount, error="-5017")["error"] == -5
    assert click.prepare(failed, order["number"], som(order["total"] + 1), error="-5017")["error"] == -2
    seen = admin_order(store, order["id"])
    assert (seen["status"], seen["payment_status"]) == ("pending_payment", "awaiting")
    listed = store.http.get(f"{store.url}/admin/click/transactions", params={"order": order["number"]},
                            headers=store.admin("payments:read")).json()
    assert listed["total"] == 0
    assert store.events("payment.authorized") == store.events("payment.canceled") == 0
    pay(store, order)
    assert admin_order(store, order["id"])["payment_status"] == "paid"
    # On a paid order too it is -9, and the payment is kept.
    assert click.prepare(click.new_trans_id(), order["number"], amount, error="-5017")["error"] == -9
    assert admin_order(store, order["id"])["payment_status"] == "paid"


def test_an_admin_cancel_of_a_paid_click_order_reverses_the_payment(store: Store, fake_click: FakeClick) -> None:
    order = store.order()
    trans, _ = pay(store, order, fake=fake_click)
    response = store.http.post(f"{store.url}/admin/orders/{order['id']}/cancel", json={"reason": "customer asked"},
                               headers=store.admin("orders:write", "orders:read"))
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["payment_status"]) == ("canceled", "refunded")
    assert fake_click.payments[int(trans)].reversed
    assert ("DELETE", f"/v2/merchant/payment/reversal/{SERVICE_ID}/{trans}") in fake_click.requests
    rows = store.http.get(f"{store.url}/admin/click/transactions", params={"order": order["number"]},
                          headers=store.admin("payments:read")).json()["items"]
    assert [(r["status"], r["reversal_status"]) for r in rows] == [("reversed", "done")]


def test_a_partial_refund_is_refused_because_click_reverses_whole_payments(store: Store,
                                                                           fake_click: FakeClick) -> None:
    order = store.order()
    trans, _ = pay(store, order, fake=fake_click)
    response = store.http.post(f"{store.url}/admin/orders/{order['id']}/refunds", json={"amount": 100},
                               headers=store.admin("orders:write", "orders:read"))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "refund_failed"
    assert not fake_click.payments[int(trans)].reversed
    assert admin_order(store, order["id"])["payment_status"] == "paid"


def test_money_taken_after_the_order_was_canceled_is_answered_success_and_reversed(
        store: Store, fake_click: FakeClick) -> None:
    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepare_id = store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"]
    canceled = store.http.post(f"{store.url}/admin/orders/{order['id']}/cancel", json={"reason": "out of stock"},
                               headers=store.admin("orders:write", "orders:read"))
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    fake_click.add_payment(int(trans), order["number"], amount)
    # Click has debited: Complete must not fail (spec §2.1); we answer success and reverse it.
    assert store.click.complete(trans, order["number"], amount, prepare_id)["error"] == 0
    store.toolbox.events.drain(retry_now=True)
    assert fake_click.payments[int(trans)].reversed
    assert admin_order(store, order["id"])["payment_status"] == "refunded"
    assert store.events("payment.refund_required") == 1
    assert store.events("payment.refunded") == 1
    # A redelivered event does not reverse twice.
    assert [m for m, _ in fake_click.requests].count("DELETE") == 1


def test_an_invoice_by_phone_for_an_unpaid_click_order(store: Store, fake_click: FakeClick) -> None:
    order = store.order()
    url = f"{store.url}/admin/click/orders/{order['number']}/invoice"
    assert store.http.post(url).status_code == 401
    response = store.http.post(url, json={"phone": "90 111 22 33"}, headers=store.admin("payments:write"))
    assert response.status_code == 201, response.text
    invoice = fake_click.invoices[response.json()["invoice_id"]]
    assert (invoice["phone_number"], invoice["merchant_trans_id"]) == ("998901112233", order["number"])
    assert str(invoice["amount"]) == som(order["total"])
    assert store.http.post(f"{store.url}/admin/click/orders/99999/invoice",
                           headers=store.admin("payments:write")).status_code == 404
    assert store.http.post(url, json={"phone": "12"}, headers=store.admin("payments:write")).status_code == 422
    pay(store, order)
    assert store.http.post(url, headers=store.admin("payments:write")).status_code == 409


def test_an_invoice_click_cannot_take_is_a_503_or_a_502_and_nothing_is_stored(store: Store,
                                                                           fake_click: FakeClick) -> None:
    order = store.order()
    url = f"{store.url}/admin/click/orders/{order['number']}/invoice"
    headers = store.admin("payments:write")
    fake_click.fail_next = [503]
    down = store.http.post(url, headers=headers)
    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "click_unavailable"
    fake_click.fail_next = [400]
    refused = store.http.post(url, headers=headers)
    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "click_refused"
    assert fake_click.invoices == {}
    with store.toolbox.db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM click_invoices")) == 0


def test_the_admin_lists_click_transactions_by_order_status_and_date(store: Store) -> None:
    paid, dropped = store.order(), store.order()
    pay(store, paid)
    trans = store.click.new_trans_id()
    prepare_id = store.click.prepare(trans, dropped["number"], som(dropped["total"]))["merchant_prepare_id"]
    store.click.complete(trans, dropped["number"], som(dropped["total"]), prepare_id, error="-1")
    headers = store.admin("payments:read")
    url = f"{store.url}/admin/click/transactions"

    def listing(**params: str) -> list[dict]:
        response = store.http.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    assert len(listing()) == 2
    assert [r["order_number"] for r in listing(order=paid["number"])] == [paid["number"]]
    assert [r["order_id"] for r in listing(order=dropped["id"])] == [dropped["id"]]
    assert [r["status"] for r in listing(status="cancelled")] == ["cancelled"]
    assert listing(status="cancelled")[0]["click_error"] == -1
    now = datetime.now(UTC)
    assert len(listing(**{"from": (now - timedelta(hours=1)).isoformat()})) == 2
    assert listing(**{"to": (now - timedelta(hours=1)).isoformat()}) == []
    assert store.http.get(url).status_code == 401
    assert store.http.get(url, headers=store.admin("orders:read")).status_code == 403
    assert store.http.get(url, params={"status": "paid"}, headers=headers).status_code == 422
    assert store.http.get(url, params={"limit": "100000"}, headers=headers).status_code == 422


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_admin_lists_click_transactions_by_utc_day_or_inclusive_time(make_store, database: str) -> None:
    from toolbox_click.models import ClickTransaction

    store = make_store(database)
    for order, moment in [(store.order(), datetime(2026, 12, 2, 23, 30, tzinfo=UTC)),
                          (store.order(), datetime(2026, 12, 3, 10, 0, tzinfo=UTC)),
                          (store.order(), datetime(2026, 12, 4, 0, 0, tzinfo=UTC))]:
        pay(store, order)
        with store.toolbox.db.transaction() as session:
            row = session.query(ClickTransaction).filter_by(order_id=order["id"]).one()
            row.created_at = moment
    headers = store.admin("payments:read")
    url = f"{store.url}/admin/click/transactions"

    def days(**params: str) -> list[str]:
        response = store.http.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return sorted(r["created_at"][:16] for r in response.json()["items"])

    assert days(to="2026-12-03") == ["2026-12-02T23:30", "2026-12-03T10:00"]  # the whole day named
    assert days(**{"from": "2026-12-03", "to": "2026-12-03"}) == ["2026-12-03T10:00"]
    assert days(**{"from": "2026-12-03T10:00"}) == ["2026-12-03T10:00", "2026-12-04T00:00"]  # naive: UTC
    assert days(**{"from": "2026-12-03T15:00+05:00", "to": "2026-12-03T15:00+05:00"}) == ["2026-12-03T10:00"]
    backwards = store.http.get(url, params={"from": "2026-12-04", "to": "2026-12-03"}, headers=headers)
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (422, "invalid_input")
    garbage = store.http.get(url, params={"from": "last week"}, headers=headers)
    assert garbage.status_code == 422
    assert garbage.json()["error"]["details"]["fields"][0]["loc"] == ["query", "from"]
    twice = store.http.get(f"{url}?to=2026-12-03&to=2026-12-04", headers=headers)
    assert (twice.status_code, twice.json()["error"]["code"]) == (422, "invalid_input")
    assert twice.json()["error"]["details"]["fields"][0]["loc"] == ["query", "to"]


def test_doctor_checks_the_merchant_api_with_our_auth(store: Store, fake_click: FakeClick) -> None:
    checks = {c.name: c for c in plugin.doctor_checks(store.toolbox)}
    assert checks["click.settings"].ok and checks["click.merchant_api"].ok
    assert checks["click.tables"].ok and checks["click.tables"].message == "click_transactions, click_invoices migrated"
    assert "s3cr3t" not in " ".join(c.message for c in checks.values())
    fake_click.secret_key = "rotated-at-click"
    failed = {c.name: c for c in plugin.doctor_checks(store.toolbox)}["click.merchant_api"]
    assert not failed.ok and "Auth" in failed.message


def test_doctor_warns_without_a_merchant_user_id_as_it_is_optional(store: Store) -> None:
    from toolbox_click.doctor import checks
    from toolbox_click.settings import ClickSettings

    settings = store.toolbox.plugin_settings("click")
    without: ClickSettings = settings.model_copy(update={"merchant_user_id": None})
    merchant_api = {c.name: c for c in checks(store.toolbox, without)}["click.merchant_api"]
    assert merchant_api.ok and merchant_api.warning  # toolbox doctor passes, and says what refunds need
    assert "TOOLBOX_CLICK__MERCHANT_USER_ID" in merchant_api.message


def test_doctor_before_migrate_names_the_missing_tables_and_still_checks_the_merchant_api(
        store: Store, fake_click: FakeClick, tmp_path) -> None:
    from toolbox_core.api import Toolbox
    from toolbox_core.testing.doctor import plugin_doctor_checks

    unmigrated = store.toolbox.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
    toolbox = Toolbox.create(unmigrated, plugin_settings={"click": store.toolbox.plugin_settings("click").model_dump()})
    try:
        checks = {c.name: c for c in plugin_doctor_checks(toolbox, "click")}
    finally:
        toolbox.close()
    assert not checks["click.tables"].ok
    assert checks["click.tables"].message == "click_transactions, click_invoices are missing: run toolbox migrate"
    assert checks["click.settings"].ok and checks["click.merchant_api"].ok


def test_settings_come_from_the_environment_and_missing_ones_are_named(monkeypatch, make_toolbox) -> None:
    monkeypatch.setenv("TOOLBOX_CLICK__SERVICE_ID", "30001")
    with pytest.raises(Exception, match="TOOLBOX_CLICK__SECRET_KEY"):
        make_toolbox(["click"])
    monkeypatch.setenv("TOOLBOX_CLICK__MERCHANT_ID", "17001")
    monkeypatch.setenv("TOOLBOX_CLICK__SECRET_KEY", "from-env")
    settings = make_toolbox(["click"]).plugin_settings("click")
    assert settings.secret_key.get_secret_value() == "from-env"
    assert "from-env" not in repr(settings)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_click_tables_agree_with_the_click_migration(make_store, database: str) -> None:
    store = make_store(database=database)
    assert model_differences(store.toolbox, {"click_transactions", "click_invoices"}) == []


def test_a_failure_on_our_side_is_minus_seven_changes_nothing_and_click_may_retry(store: Store,
                                                                                  monkeypatch) -> None:
    from toolbox_core.api import PaymentService

    order = store.order()
    trans, amount = store.click.new_trans_id(), som(order["total"])
    prepare_id = store.click.prepare(trans, order["number"], amount)["merchant_prepare_id"]

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(PaymentService, "capture_in_session", broken)
    failed = store.click.complete(trans, order["number"], amount, prepare_id)
    assert (failed["error"], failed["error_note"]) == (-7, "Failed to update user")
    assert admin_order(store, order["id"])["payment_status"] == "authorized"
    monkeypatch.undo()
    assert store.click.complete(trans, order["number"], amount, prepare_id)["error"] == 0
    assert store.events("payment.captured") == 1


class _Quiet:
    def total(self, count: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def message(self, text: str) -> None: ...


def test_a_prepared_order_outlives_its_payment_timeout_until_the_hold_ends(store: Store) -> None:
    from sqlalchemy import text

    waiting, prepared = store.order(), store.order()
    past = datetime.now(UTC) - timedelta(seconds=5)
    with store.toolbox.db.transaction() as session:  # both payment timeouts have passed
        session.execute(text("UPDATE orders SET payment_expires_at = :t WHERE id IN (:a, :b)"),
                        {"t": past, "a": waiting["id"], "b": prepared["id"]})
    trans, amount = store.click.new_trans_id(), som(prepared["total"])
    prepare_id = store.click.prepare(trans, prepared["number"], amount)["merchant_prepare_id"]
    store.toolbox.scheduler.run_now("checkout.expire_unpaid_orders", _Quiet())
    assert admin_order(store, waiting["id"])["status"] == "canceled"
    assert admin_order(store, prepared["id"])["status"] == "pending_payment"
    assert store.click.complete(trans, prepared["number"], amount, prepare_id)["error"] == 0
    assert admin_order(store, prepared["id"])["payment_status"] == "paid"


def test_staff_can_ask_click_what_it_knows_of_an_attempt(store: Store, fake_click: FakeClick) -> None:
    order = store.order()
    trans, _ = pay(store, order, fake=fake_click)
    headers = store.admin("payments:read")
    row = store.http.get(f"{store.url}/admin/click/transactions", params={"order": order["number"]},
                         headers=headers).json()["items"][0]
    answer = store.http.get(f"{store.url}/admin/click/transactions/{row['id']}/click-status", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["click"] == {"payment_id": int(trans), "payment_status": 2, "error_note": "Success"}
    assert store.http.get(f"{store.url}/admin/click/transactions/999/click-status",
                          headers=headers).status_code == 404
    assert store.http.get(f"{store.url}/admin/click/transactions/0/click-status",
                          headers=headers).status_code == 422
    fake_click.fail_next = [503, 503, 503]
    assert store.http.get(f"{store.url}/admin/click/transactions/{row['id']}/click-status",
                          headers=headers).status_code == 503

"""Sign-in and identity (issues 15/16): one sign-in call, guest orders and carts that follow the
verified phone, cart adoption only with the cart's token, sessions revoked everywhere and
cleaned up, guest order lookups by number and rate-limited, no staff names for shoppers."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.checkout.helpers import ADDRESS, admin_headers, make_variant, ready_cart
from tests.customers.conftest import PHONE, verify
from toolbox_core.cart.models import Cart
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.customers import service
from toolbox_core.customers.models import CustomerSession
from toolbox_core.db.base import utcnow
from toolbox_core.orders.models import Order

OTHER = "+998931112233"


def guest_order(toolbox, phone: str = PHONE):
    """A guest's placed order (cash on delivery) with ``phone``."""
    cart_id = ready_cart(toolbox, make_variant(toolbox))
    if phone != PHONE:
        with toolbox.db.transaction() as session:
            session.get(Cart, cart_id).phone = phone
    return CheckoutService(toolbox).complete(cart_id, None)


@pytest.fixture
def api(make_client):
    """The app on embedded settings; a code may be asked for again at once (several sign-ins)."""
    return make_client(otp_resend_seconds=0)


def bearer(body):
    return {"Authorization": f"Bearer {body['token']}"}


# ------------------------------------------------------------------ OTP on the defaults
def test_embedded_defaults_print_the_code_to_the_console(make_client, caplog):
    client = make_client(otp_sender="log")  # embedded mode, debug off: the README's defaults
    with caplog.at_level(logging.WARNING, logger="toolbox.otp"):
        response = client.post("/store/otp/request", json={"phone": PHONE})
    assert response.status_code == 200, response.text
    code = re.search(r"sign-in code for \+998901234567: (\d{6})", caplog.text).group(1)
    verified = client.post("/store/otp/verify", json={"phone": PHONE, "code": code})
    assert verified.status_code == 200


def test_doctor_flags_a_missing_or_a_non_delivering_otp_sender(make_client, redis_clean):
    from toolbox_core.customers.plugin import otp_sender_check

    embedded_log = otp_sender_check(make_client(otp_sender="log").app.state.toolbox)
    assert embedded_log.ok and "console" in embedded_log.message

    unknown = otp_sender_check(make_client(otp_sender="eskiz").app.state.toolbox)
    assert not unknown.ok
    assert "'eskiz'" in unknown.message and "TOOLBOX_PLUGINS" in unknown.message

    production_log = otp_sender_check(make_client(otp_sender="log", redis_url=redis_clean).app.state.toolbox)
    assert not production_log.ok and "TOOLBOX_AUTH__OTP_SENDER" in production_log.message

    assert otp_sender_check(make_client().app.state.toolbox).ok  # the recording sender exists


def test_serve_demo_says_where_the_codes_go(make_client, redis_clean):
    from toolbox_core.customers.plugin import demo_sign_in_hint

    embedded = make_client(otp_sender="log").app.state.toolbox.settings
    assert "printed in this console" in demo_sign_in_hint(embedded)
    production = make_client(otp_sender="log", redis_url=redis_clean).app.state.toolbox.settings
    assert "TOOLBOX_AUTH__OTP_SENDER" in demo_sign_in_hint(production)


# ------------------------------------------------------------------ one sign-in call
def test_one_sign_in_call_registers_names_and_links_the_held_cart(api, sms):
    cart = api.post("/store/carts").json()  # this client holds the cart (its token cookie)
    body = api.post("/store/customers/sign-in", json={
        "verification_token": verify(api, sms), "name": "Aziz", "locale": "uz", "cart_id": cart["id"],
    })
    assert body.status_code == 200, body.text
    session = body.json()
    assert session["created"] is True and session["cart_linked"] is True
    assert (session["customer"]["name"], session["customer"]["locale"]) == ("Aziz", "uz")
    linked = api.get(f"/store/carts/{cart['id']}", headers=bearer(session)).json()
    assert linked["customer_id"] == session["customer"]["id"]
    assert linked["phone"] == PHONE  # checkout does not ask for the phone just verified


def test_auto_register_is_the_same_call(api, sms):
    body = api.post("/store/customers/auto-register", json={"verification_token": verify(api, sms),
                                                             "name": "Dilnoza"}).json()
    assert body["created"] is True and body["customer"]["name"] == "Dilnoza"
    again = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    assert again["created"] is False and again["customer"]["id"] == body["customer"]["id"]


def test_a_cart_id_alone_is_not_linked_at_sign_in(api, make_client, sms):
    stranger = make_client()
    cart_id = stranger.post("/store/carts").json()["id"]
    body = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms),
                                                       "cart_id": cart_id}).json()
    assert body["cart_linked"] is False
    with api.app.state.toolbox.db.session() as session:
        assert session.get(Cart, cart_id).customer_id is None


# ------------------------------------------------------------------ guest orders and carts
def test_sign_in_claims_the_guest_orders_of_the_verified_phone_once(api, sms):
    toolbox = api.app.state.toolbox
    mine, theirs = guest_order(toolbox), guest_order(toolbox, OTHER)
    session = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    listed = api.get("/store/orders", headers=bearer(session)).json()
    assert [o["id"] for o in listed["items"]] == [mine.order_id]
    with toolbox.db.session() as db:
        assert db.get(Order, theirs.order_id).customer_id is None
    with toolbox.db.transaction() as db:  # idempotent: nothing left to claim
        assert service.claim_guest_orders(db, "cus_someone_else", PHONE) == 0
    with toolbox.db.session() as db:
        assert db.get(Order, mine.order_id).customer_id == session["customer"]["id"]


def test_a_signed_in_customers_new_cart_carries_their_phone(api, sms):
    session = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    cart = api.post("/store/carts", headers=bearer(session)).json()
    assert cart["phone"] == PHONE


def test_checkout_takes_the_phone_of_a_cart_linked_before(api, sms):
    toolbox = api.app.state.toolbox
    session = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    cart_id = ready_cart(toolbox, make_variant(toolbox))
    with toolbox.db.transaction() as db:  # a cart linked by an older release: no phone
        cart = db.get(Cart, cart_id)
        cart.phone, cart.customer_id = None, session["customer"]["id"]
    result = CheckoutService(toolbox).complete(cart_id, session["customer"]["id"])
    with toolbox.db.session() as db:
        assert db.get(Order, result.order_id).phone == PHONE


# ------------------------------------------------------------------ cart adoption
def test_a_cart_id_alone_neither_adopts_nor_reads_personal_data(api, make_client, sms):
    toolbox = api.app.state.toolbox
    variant = make_variant(toolbox)
    guest = make_client()
    cart = guest.post("/store/carts").json()
    guest.patch(f"/store/carts/{cart['id']}", json={"phone": OTHER, "email": "g@example.uz", "address": ADDRESS})
    session = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    api.cookies.clear()

    seen = api.get(f"/store/carts/{cart['id']}", headers=bearer(session))
    assert seen.status_code == 200
    assert (seen.json()["phone"], seen.json()["email"], seen.json()["address"]) == (None, None, None)
    assert "cart_token" not in seen.json() and "set-cookie" not in seen.headers
    changed = api.post(f"/store/carts/{cart['id']}/lines", json={"variant_id": variant, "quantity": 1},
                       headers=bearer(session))
    assert changed.status_code == 200 and changed.json()["phone"] is None
    with toolbox.db.session() as db:
        assert db.get(Cart, cart["id"]).customer_id is None  # not adopted

    own = guest.get(f"/store/carts/{cart['id']}").json()  # the creator still sees everything
    assert own["phone"] == OTHER and own["address"]["street"] == ADDRESS["street"]

    adopted = api.get(f"/store/carts/{cart['id']}", headers={**bearer(session), "X-Cart-Token": cart["cart_token"]})
    assert adopted.json()["phone"] == OTHER
    api.post(f"/store/carts/{cart['id']}/lines", json={"variant_id": variant, "quantity": 1},
             headers={**bearer(session), "X-Cart-Token": cart["cart_token"]})
    with toolbox.db.session() as db:
        assert db.get(Cart, cart["id"]).customer_id == session["customer"]["id"]


def test_a_completed_carts_409_names_the_order_only_to_its_holder(client, toolbox, make_client):
    cart_id = ready_cart(toolbox, make_variant(toolbox))
    result = CheckoutService(toolbox).complete(cart_id, None)
    stranger = client.get(f"/store/carts/{cart_id}")
    assert stranger.status_code == 409
    assert stranger.json()["error"]["code"] == "cart_completed"
    assert "order_id" not in stranger.json()["error"]["details"]
    from toolbox_core.cart.access import cart_token

    holder = client.get(f"/store/carts/{cart_id}", headers={"X-Cart-Token": cart_token(toolbox, cart_id)})
    # Its holder is told where the order is (a GET on a completed cart is not an error for it).
    assert holder.status_code == 200 and holder.json()["order"]["id"] == result.order_id
    change = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": "var_x", "quantity": 1},
                         headers={"X-Cart-Token": cart_token(toolbox, cart_id)})
    assert change.status_code == 409 and change.json()["error"]["details"]["order_id"] == result.order_id


# ------------------------------------------------------------------ sessions
def test_sign_out_everywhere_revokes_every_session(api, sms):
    first = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    second = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    api.cookies.clear()
    assert api.post("/store/customers/sign-out", params={"everywhere": "true"}, headers=bearer(second)).status_code == 204
    for body in (first, second):
        assert api.get("/store/customers/me", headers=bearer(body)).status_code == 401


def test_signing_in_with_sign_out_others_keeps_only_the_new_session(api, sms):
    old = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    new = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms),
                                                      "sign_out_others": True}).json()
    api.cookies.clear()
    assert api.get("/store/customers/me", headers=bearer(old)).status_code == 401
    assert api.get("/store/customers/me", headers=bearer(new)).status_code == 200


def test_cleanup_job_deletes_dead_sessions_and_long_expired_carts(api, sms, monkeypatch):
    toolbox = api.app.state.toolbox
    live = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    dead = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    api.post("/store/customers/sign-out", headers=bearer(dead))
    old_cart = api.post("/store/carts").json()["id"]
    fresh_cart = api.post("/store/carts").json()["id"]
    with toolbox.db.transaction() as db:
        db.get(Cart, old_cart).expires_at = utcnow() - timedelta(days=31)
        db.add(CustomerSession(id="csess_expired", token_hash="0" * 64, customer_id=live["customer"]["id"],
                               expires_at=utcnow() - timedelta(seconds=1)))
    monkeypatch.setattr(service, "CLEANUP_BATCH", 1)  # several bounded batches

    assert "customers.cleanup" in toolbox.scheduler.jobs
    run = toolbox.scheduler.run_now("customers.cleanup", _NoProgress())
    assert run.result == "2 sessions, 1 carts deleted"
    with toolbox.db.session() as db:
        assert db.scalars(select(CustomerSession.id)).all() != []
        assert db.get(Cart, old_cart) is None and db.get(Cart, fresh_cart) is not None
    assert api.get("/store/customers/me", headers=bearer(live)).status_code == 200


class _NoProgress:
    def total(self, count: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def message(self, text: str) -> None: ...


# ------------------------------------------------------------------ order lookup
def test_orders_are_found_by_the_number_the_customer_sees(api, sms):
    toolbox = api.app.state.toolbox
    order = guest_order(toolbox)
    guest = api.get(f"/store/orders/{order.number}", params={"phone": "90 123 45 67"})
    assert guest.status_code == 200 and guest.json()["id"] == order.order_id
    assert api.get(f"/store/orders/{order.number}", params={"phone": OTHER}).status_code == 404
    session = api.post("/store/customers/sign-in", json={"verification_token": verify(api, sms)}).json()
    api.cookies.clear()
    mine = api.get(f"/store/orders/{order.number}", headers=bearer(session))
    assert mine.status_code == 200 and mine.json()["number"] == order.number


def test_guest_order_lookups_are_rate_limited_per_order_and_per_address(make_client):
    client = make_client(order_lookup_max_per_hour=3, order_lookup_max_per_ip_per_hour=5)
    toolbox = client.app.state.toolbox
    first, second = guest_order(toolbox), guest_order(toolbox)
    for _ in range(3):
        assert client.get(f"/store/orders/{first.number}", params={"phone": OTHER}).status_code == 404
    limited = client.get(f"/store/orders/{first.order_id}", params={"phone": PHONE})  # even the right phone
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited" and set(limited.json()["error"]) >= {"message", "request_id"}
    assert int(limited.headers["retry-after"]) > 0
    assert client.get(f"/store/orders/{second.number}", params={"phone": PHONE}).status_code == 200
    assert client.get(f"/store/orders/{second.number}", params={"phone": PHONE}).status_code == 429  # the address


def test_shoppers_do_not_see_staff_key_names_in_the_history(client, toolbox):
    order = guest_order(toolbox)
    headers = admin_headers(toolbox, "*")
    assert client.post(f"/admin/orders/{order.order_id}/fulfill", headers=headers).status_code == 200
    admin_view = client.get(f"/admin/orders/{order.order_id}", headers=headers).json()
    assert "admin:staff" in [h["actor"] for h in admin_view["history"]]
    shopper = client.get(f"/store/orders/{order.number}", params={"phone": PHONE})
    assert [h["actor"] for h in shopper.json()["history"]] == ["storefront", "store"]
    assert "staff" not in shopper.text


def test_two_processes_signing_one_phone_in_claim_its_guest_orders_once_on_postgresql(settings, pg_url, sms):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tests.customers.conftest import build_toolbox
    from toolbox_core.customers import otp

    pg = settings.model_copy(update={"database_url": pg_url})
    processes = [build_toolbox(pg, sms), build_toolbox(pg, sms)]  # two engines, as two processes would have
    try:
        orders = [guest_order(processes[0]).order_id for _ in range(3)]
        tokens = []
        for i in range(8):
            token = f"tbx_verify_race{i}"
            processes[0].keystore.set(otp.verification_key(processes[0], token), PHONE, 60)
            tokens.append((processes[i % 2], token))
        barrier = threading.Barrier(len(tokens))

        def sign_in(args):
            toolbox, token = args
            barrier.wait()
            return service.sign_in(toolbox, token)

        with ThreadPoolExecutor(len(tokens)) as pool:
            results = list(pool.map(sign_in, tokens))
        (customer_id,) = {r.customer.id for r in results}
        with processes[1].db.session() as db:
            owners = db.scalars(select(Order.customer_id).where(Order.id.in_(orders))).all()
        assert owners == [customer_id] * 3
    finally:
        for toolbox in processes:
            toolbox.close()

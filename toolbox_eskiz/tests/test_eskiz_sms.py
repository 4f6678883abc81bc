"""Order and payment SMS: event -> notify job -> Eskiz -> delivery report, once per event."""

from __future__ import annotations

import pytest
from eskiz_helpers import CALLBACK_TOKEN

from toolbox_core.api import emit
from toolbox_core.testing.apps import admin_key, store_app, store_client

PHONE = "+998901234567"


def order_placed(toolbox, **overrides) -> str:
    payload = {"order_id": "ord_1", "number": "1001", "customer_id": None, "phone": PHONE, "total": 12_500_000,
               "currency": "UZS", "status": "awaiting_payment", "payment_provider_id": "cash", "locale": "uz",
               "shipping": {"provider_id": "flat", "option_id": "courier", "name": "Kuryer", "amount": 2_500_000}}
    payload.update(overrides)
    with toolbox.db.transaction() as session:
        return emit(session, "order.placed", payload)


@pytest.fixture
def shop(make_toolbox, eskiz_settings, serve_fake):
    """A toolbox whose public URL is served over HTTP, so the fake's callbacks reach it."""
    toolbox = make_toolbox(plugins=["eskiz"], plugin_settings={"eskiz": eskiz_settings})
    url = serve_fake(store_app(toolbox))
    settings = toolbox.plugin_settings("eskiz")
    object.__setattr__(settings, "public_url", url)
    return toolbox


def messages(toolbox, **params):
    with store_client(toolbox) as client:
        response = client.get("/admin/eskiz/messages", params=params, headers=admin_key(toolbox, "eskiz:read"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_order_placed_sends_the_confirmation_in_the_customers_locale_then_the_report_marks_it_delivered(shop, fake_eskiz):
    order_placed(shop)
    shop.events.drain()  # the subscriber queues the job; drain runs it (embedded mode)
    [sms] = fake_eskiz.sent_to("998901234567")
    assert sms.text == "Buyurtma №1001 qabul qilindi. Summa: 125 000 so'm. Yetkazib berish: Kuryer. Rahmat!"
    assert sms.sender == "4546" and sms.callback_url.endswith(f"/eskiz/callback?token={CALLBACK_TOKEN}")
    [record] = messages(shop)
    assert record["status"] == "sent" and record["request_id"] == sms.request_id and sms.user_sms_id == record["id"]

    assert fake_eskiz.report(sms, "DELIVRD").status_code == 200
    [record] = messages(shop)
    assert record["status"] == "delivered" and record["gateway_status"] == "DELIVRD" and record["parts"] == 1


def test_a_redelivered_order_placed_sends_no_second_sms(shop, fake_eskiz):
    event_id = order_placed(shop)
    shop.events.drain()
    shop.events.replay(event_id)  # the subscriber gets the same event again
    shop.events.drain()
    assert len(fake_eskiz.messages) == 1
    assert shop.events.counts()["failed"] == 0

    shop.keystore.delete(f"notify:sent:eskiz:{event_id}")  # even without the kernel's marker,
    shop.events.replay(event_id)                           # the message record guards the key
    shop.events.drain()
    assert len(fake_eskiz.messages) == 1


def test_transient_gateway_errors_are_retried_by_the_job_until_sent(shop, fake_eskiz):
    fake_eskiz.fail_next_sends(2, 503)
    order_placed(shop)
    shop.events.drain(retry_now=True)
    assert len(fake_eskiz.messages) == 1
    [record] = messages(shop)
    assert record["status"] == "sent" and record["attempts"] == 3


def test_a_text_eskiz_has_not_approved_fails_for_good_without_retries(shop, fake_eskiz):
    fake_eskiz.approved = ["Buyurtma №{number} tayyor"]
    order_placed(shop)
    shop.events.drain(retry_now=True)
    assert fake_eskiz.messages == []
    [record] = messages(shop, status="failed")
    assert record["attempts"] == 1 and "moderation" in record["last_error"]
    [parked] = shop.events.failed()
    assert parked.attempts == 1


def test_missing_phone_and_locale_are_read_from_the_customer(shop, fake_eskiz):
    from sqlalchemy import text

    with shop.db.transaction() as session:
        session.execute(text("INSERT INTO customers (id, phone, locale, created_at, updated_at) "
                             "VALUES ('cus_1', '+998935550011', 'ru', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    order_placed(shop, phone=None, locale=None, customer_id="cus_1", order_id="ord_unknown")
    shop.events.drain()
    [sms] = fake_eskiz.sent_to("998935550011")
    assert sms.text.startswith("Заказ №1001 принят")


def test_test_mode_sends_the_fixed_eskiz_test_text(make_toolbox, eskiz_settings, fake_eskiz):
    fake_eskiz.test_account = True
    toolbox = make_toolbox(plugins=["eskiz"], plugin_settings={"eskiz": {**eskiz_settings, "test_mode": True}})
    order_placed(toolbox)
    toolbox.events.drain()
    assert [m.text for m in fake_eskiz.messages] == ["Bu Eskiz dan test"]


def test_payment_and_shipment_sms_only_when_enabled(make_toolbox, eskiz_settings, fake_eskiz):
    toolbox = make_toolbox(plugins=["eskiz"], plugin_settings={"eskiz": {
        **eskiz_settings, "notify_order_placed": False, "notify_shipment_status": True}})
    with toolbox.db.transaction() as session:
        emit(session, "payment.captured", {"order_id": "o", "payment_id": "p", "provider_id": "payme",
                                           "amount": 100, "number": "7", "total": 100, "phone": PHONE, "locale": "ru"})
        emit(session, "shipment.status_changed", {
            "shipment_id": "s", "order_id": "o", "order_number": "7", "carrier": "bts", "tracking_number": "BTS1",
            "tracking_url": None, "status": "in_transit", "previous_status": "created", "phone": PHONE, "locale": "ru"})
    order_placed(toolbox)
    toolbox.events.drain()
    assert [m.text for m in fake_eskiz.messages] == ["Заказ №7: в пути. Трек-номер: BTS1"]


def test_every_shipment_status_a_customer_hears_of_has_a_text_in_both_locales():
    from toolbox_eskiz.senders import SHIPMENT_STATUS_TEXTS

    from toolbox_core.api import SHIPMENT_STATUSES

    for locale in ("ru", "uz"):
        assert set(SHIPMENT_STATUS_TEXTS[locale]) == set(SHIPMENT_STATUSES) - {"created"}


def test_a_callback_token_with_url_characters_is_escaped_in_the_callback_url(eskiz_settings):
    from toolbox_eskiz.settings import EskizSettings

    settings = EskizSettings(**{**eskiz_settings, "public_url": "https://shop.uz/",
                                "callback_token": "a&b=c d/+?"})
    assert settings.callback_url() == "https://shop.uz/eskiz/callback?token=a%26b%3Dc%20d%2F%2B%3F"


def interrupted(toolbox, row_id: str) -> None:
    """Make the record look like its worker died after calling Eskiz, before writing the answer."""
    from datetime import timedelta

    from sqlalchemy import update
    from toolbox_eskiz.models import EskizMessage

    from toolbox_core.api import utcnow

    with toolbox.db.transaction() as session:
        session.execute(update(EskizMessage).where(EskizMessage.id == row_id).values(
            status="sending", request_id=None, claimed_until=utcnow() - timedelta(seconds=1)))


def test_a_send_interrupted_after_eskiz_took_it_is_not_sent_again(eskiz_toolbox, fake_eskiz):
    from toolbox_eskiz.runtime import service_of
    from toolbox_eskiz.service import Outgoing

    service = service_of(eskiz_toolbox)
    sms = Outgoing(phone=PHONE, text="Заказ 5 принят", idempotency_key="evt_5")
    row_id = service.send(sms)
    interrupted(eskiz_toolbox, row_id)
    assert service.send(sms) == row_id
    assert len(fake_eskiz.messages) == 1
    [record] = messages(eskiz_toolbox)
    assert record["status"] == "sent" and record["request_id"] == fake_eskiz.messages[0].request_id


def test_a_send_interrupted_before_eskiz_got_it_is_sent_by_the_next_attempt(eskiz_toolbox, fake_eskiz):
    from toolbox_eskiz.runtime import service_of
    from toolbox_eskiz.service import Outgoing

    service = service_of(eskiz_toolbox)
    sms = Outgoing(phone=PHONE, text="Заказ 6 принят", idempotency_key="evt_6")
    row_id = service.send(sms)
    fake_eskiz.messages.clear()  # Eskiz never got it
    interrupted(eskiz_toolbox, row_id)
    service.send(sms)
    assert [m.user_sms_id for m in fake_eskiz.messages] == [row_id]


def test_a_duplicate_job_waits_while_another_worker_is_sending(eskiz_toolbox, fake_eskiz):
    from datetime import timedelta

    from sqlalchemy import update
    from toolbox_eskiz.models import EskizMessage
    from toolbox_eskiz.runtime import service_of
    from toolbox_eskiz.service import Outgoing

    from toolbox_core.api import RetryLater, utcnow

    service = service_of(eskiz_toolbox)
    sms = Outgoing(phone=PHONE, text="Заказ 8 принят", idempotency_key="evt_8")
    row_id = service.send(sms)
    with eskiz_toolbox.db.transaction() as session:
        session.execute(update(EskizMessage).where(EskizMessage.id == row_id).values(
            status="sending", claimed_until=utcnow() + timedelta(seconds=30)))
    with pytest.raises(RetryLater) as raised:
        service.send(sms)
    assert 25 <= raised.value.after <= 31 and len(fake_eskiz.messages) == 1

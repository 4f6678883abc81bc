"""New orders reach the staff chat: once, in the shop's locale, retried while Telegram is down."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.telegram import STAFF_CHAT, TOKEN, FakeTelegram, serve_telegram
from toolbox_core.api import Event, format_som
from toolbox_core.testing import add_variant


@pytest.fixture
def fake_telegram(serve_fake: Any) -> FakeTelegram:
    """The fake Bot API (tests/fakes/telegram.py) on loopback."""
    return serve_telegram(serve_fake)


def shop(make_toolbox: Any, fake: FakeTelegram, *, locale: str | None = None, **kernel: Any) -> Any:
    section: dict[str, Any] = {"bot_token": TOKEN, "chat_id": STAFF_CHAT, "api_url": fake.url}
    if locale:
        section["locale"] = locale
    return make_toolbox(plugins=["telegram"], plugin_settings={"telegram": section}, **kernel)


PHONE = "+998901234567"


def place_order(toolbox: Any, make_client: Any, price: int = 12_500_000, quantity: int = 2) -> dict[str, Any]:
    """A guest order through the store API (pickup, cash on delivery); returns the order."""
    client = make_client(toolbox)
    variant = add_variant(toolbox, price=price)
    created = client.post("/store/carts", json={"phone": PHONE})
    assert created.status_code == 201, created.text
    cart_id = created.json()["id"]
    for path, body in ((f"/store/carts/{cart_id}/lines", {"variant_id": variant, "quantity": quantity}),
                       (f"/store/carts/{cart_id}/shipping", {"provider_id": "pickup", "option_id": "pickup"}),
                       (f"/store/carts/{cart_id}/payment-session", {"provider_id": "cash_on_delivery"})):
        answer = client.post(path, json=body)
        assert answer.status_code < 300, answer.text
    placed = client.post(f"/store/carts/{cart_id}/complete")
    assert placed.status_code == 201, placed.text
    return placed.json()["order"]


def test_a_new_order_is_posted_to_the_staff_chat_once(make_toolbox: Any, make_client: Any, fake_telegram: FakeTelegram) -> None:
    toolbox = shop(make_toolbox, fake_telegram)
    order = place_order(toolbox, make_client)
    toolbox.events.drain()
    toolbox.events.drain()  # nothing is delivered twice
    (text,) = fake_telegram.messages_to(STAFF_CHAT)
    assert text.startswith(f"🛒 Новый заказ №{order['number']}")
    assert f"Сумма: {format_som(order['total'])}" in text and "Телефон: +998901234567" in text
    assert "Оплата: cash_on_delivery" in text


def test_the_message_is_in_the_shops_locale(make_toolbox: Any, make_client: Any, fake_telegram: FakeTelegram) -> None:
    toolbox = shop(make_toolbox, fake_telegram, default_locale="uz")
    order = place_order(toolbox, make_client)
    toolbox.events.drain()
    (text,) = fake_telegram.messages_to(STAFF_CHAT)
    assert text.startswith(f"🛒 Yangi buyurtma №{order['number']}") and "Summa: 250 000 so'm" in text


def test_the_plugin_locale_wins_over_the_shops(make_toolbox: Any, make_client: Any, fake_telegram: FakeTelegram) -> None:
    toolbox = shop(make_toolbox, fake_telegram, locale="ru", default_locale="uz")
    place_order(toolbox, make_client)
    toolbox.events.drain()
    assert fake_telegram.messages_to(STAFF_CHAT)[0].startswith("🛒 Новый заказ")


def test_while_telegram_is_down_the_post_is_retried_until_it_goes_through(make_toolbox: Any, make_client: Any, fake_telegram: FakeTelegram) -> None:
    toolbox = shop(make_toolbox, fake_telegram)
    fake_telegram.fail_next(429, "Too Many Requests: retry after 3", retry_after=3)
    fake_telegram.fail_next(502, "Bad Gateway")
    place_order(toolbox, make_client)
    toolbox.events.drain()  # the first try fails (made here or by the app's in-process worker)
    assert fake_telegram.calls.count("sendMessage") == 1 and fake_telegram.sent == []
    assert toolbox.events.counts()["failed"] == 0, "a transient failure is retried, not parked"
    toolbox.events.drain(retry_now=True)
    assert len(fake_telegram.messages_to(STAFF_CHAT)) == 1
    assert fake_telegram.calls.count("sendMessage") == 3


def test_a_permanent_refusal_is_parked_with_its_reason(make_toolbox: Any, make_client: Any, fake_telegram: FakeTelegram) -> None:
    toolbox = shop(make_toolbox, fake_telegram)
    fake_telegram.fail_next(403, "Forbidden: bot was kicked from the supergroup chat", times=50)
    place_order(toolbox, make_client)
    toolbox.events.drain(retry_now=True)
    assert fake_telegram.sent == []
    (parked,) = [d for d in toolbox.events.failed() if d.subscriber == "telegram.order_placed"]
    assert "bot was kicked" in (parked.last_error or "")


def test_a_redelivered_event_is_posted_once(make_toolbox: Any, make_client: Any, fake_telegram: FakeTelegram) -> None:
    from toolbox_telegram.plugin import post_order_placed

    toolbox = shop(make_toolbox, fake_telegram)
    event = Event("evt_1", "order.placed", {"order_id": "ord_1", "number": "1001", "total": 6_500_000,
                                            "phone": "+998901234567", "status": "placed"})
    post_order_placed(event, toolbox)
    post_order_placed(event, toolbox)
    assert len(fake_telegram.sent) == 1


@pytest.mark.redis
def test_idempotency_holds_across_processes_through_redis(make_toolbox: Any, make_client: Any, fake_telegram: FakeTelegram) -> None:
    """Two toolboxes (two processes' worth of state) on one Redis post an event once."""
    from toolbox_telegram.plugin import post_order_placed

    first = shop(make_toolbox, fake_telegram, redis=True)
    second = make_toolbox(plugins=["telegram"], plugin_settings={"telegram": {
        "bot_token": TOKEN, "chat_id": STAFF_CHAT, "api_url": fake_telegram.url}},
        redis_url=first.settings.redis_url)
    event = Event("evt_2", "order.placed", {"number": "1002", "total": 100, "status": "placed"})
    post_order_placed(event, first)
    post_order_placed(event, second)
    assert len(fake_telegram.sent) == 1

"""The telegram channel against a fake Bot API over real HTTP: contract, errors, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.telegram import STAFF_CHAT, TOKEN, FakeTelegram, serve_telegram
from toolbox_core.api import Notification, PermanentFailure, RetryLater
from toolbox_core.testing.contracts import NotificationChannelContract


@pytest.fixture
def fake_telegram(serve_fake: Any) -> FakeTelegram:
    """The fake Bot API (tests/fakes/telegram.py) on loopback."""
    return serve_telegram(serve_fake)


def telegram_settings(fake: FakeTelegram, **extra: Any) -> dict[str, dict[str, Any]]:
    return {"telegram": {"bot_token": TOKEN, "chat_id": STAFF_CHAT, "api_url": fake.url,
                         "timeout_seconds": 5, **extra}}


@pytest.fixture
def channel(make_toolbox: Any, fake_telegram: FakeTelegram) -> Any:
    return make_toolbox(plugins=["telegram"], plugin_settings=telegram_settings(fake_telegram)) \
        .notification_channels["telegram"]


class TestTelegramChannelContract(NotificationChannelContract):
    @pytest.fixture
    def provider(self, channel: Any, fake_telegram: FakeTelegram) -> Any:
        self.fake = fake_telegram
        return channel

    @pytest.fixture
    def failing_provider(self, channel: Any, fake_telegram: FakeTelegram) -> Any:
        fake_telegram.fail_next(502, "Bad Gateway", times=5)
        return channel

    def delivered(self, provider: Any, idempotency_key: str) -> int:
        return len(self.fake.sent)  # the suite sends one notification, twice


def test_a_phone_recipient_goes_to_the_staff_chat_and_a_chat_id_to_that_chat(channel: Any, fake_telegram: FakeTelegram) -> None:
    fake_telegram.chats["@shop_news"] = {"id": -100777, "type": "channel", "title": "News"}
    assert channel.send(Notification(to="+998901234567", text="Hello staff")) == "1"
    assert channel.send(Notification(to="@shop_news", text="Hello channel")) == "2"
    assert fake_telegram.messages_to(STAFF_CHAT) == ["Hello staff"]
    assert fake_telegram.messages_to("@shop_news") == ["Hello channel"]


def test_too_many_requests_is_retry_later_after_what_telegram_asks(channel: Any, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next(429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryLater) as err:
        channel.send(Notification(to=STAFF_CHAT, text="Hi", idempotency_key="k-429"))
    assert err.value.after == 7
    assert channel.send(Notification(to=STAFF_CHAT, text="Hi", idempotency_key="k-429")) == "1", \
        "a refused attempt does not count as sent"


def test_a_kicked_bot_is_a_permanent_failure(channel: Any, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next(403, "Forbidden: bot was kicked from the supergroup chat")
    with pytest.raises(PermanentFailure, match="bot was kicked"):
        channel.send(Notification(to=STAFF_CHAT, text="Hi"))


def test_an_upgraded_group_names_the_new_chat_id_to_configure(channel: Any, fake_telegram: FakeTelegram) -> None:
    fake_telegram.upgrade_chat(STAFF_CHAT, -1009999999999)
    with pytest.raises(PermanentFailure, match="TOOLBOX_TELEGRAM__CHAT_ID=-1009999999999"):
        channel.send(Notification(to=STAFF_CHAT, text="Hi"))


def test_a_wrong_token_fails_without_showing_the_token(make_toolbox: Any, fake_telegram: FakeTelegram) -> None:
    wrong = "987654321:AAHwrongTokenForTests_zyxwvutsrq"
    toolbox = make_toolbox(plugins=["telegram"], plugin_settings=telegram_settings(fake_telegram, bot_token=wrong))
    with pytest.raises(PermanentFailure) as err:
        toolbox.notification_channels["telegram"].send(Notification(to=STAFF_CHAT, text="Hi"))
    assert "TOOLBOX_TELEGRAM__BOT_TOKEN" in err.value.reason
    assert wrong not in err.value.reason and wrong.split(":")[1] not in repr(toolbox.plugin_settings("telegram"))


def test_an_unreachable_api_is_retry_later_without_the_url(make_toolbox: Any) -> None:
    toolbox = make_toolbox(plugins=["telegram"], plugin_settings={"telegram": {
        "bot_token": TOKEN, "chat_id": STAFF_CHAT, "api_url": "http://127.0.0.1:9", "timeout_seconds": 2}})
    with pytest.raises(RetryLater) as err:
        toolbox.notification_channels["telegram"].send(Notification(to=STAFF_CHAT, text="Hi"))
    assert TOKEN not in str(err.value) and "127.0.0.1" not in str(err.value)


@pytest.mark.parametrize(("field", "value"), [("bot_token", "not-a-token"), ("chat_id", "staff chat"),
                                              ("api_url", "ftp://api.telegram.org")])
def test_bad_settings_stop_the_start_naming_the_variable(make_toolbox: Any, fake_telegram: FakeTelegram,
                                                         field: str, value: str) -> None:
    with pytest.raises(Exception, match=f"TOOLBOX_TELEGRAM__{field.upper()}"):
        make_toolbox(plugins=["telegram"], plugin_settings=telegram_settings(fake_telegram, **{field: value}))


def test_doctor_checks_the_token_and_the_staff_chat(make_toolbox: Any, fake_telegram: FakeTelegram) -> None:
    from toolbox_core.testing.doctor import plugin_doctor_checks

    toolbox = make_toolbox(plugins=["telegram"], plugin_settings=telegram_settings(fake_telegram))
    checks = {c.name: c for c in plugin_doctor_checks(toolbox, "telegram")}
    assert checks["telegram bot"].ok and "@shop_staff_bot" in checks["telegram bot"].message
    assert checks["telegram staff chat"].ok and "Shop staff" in checks["telegram staff chat"].message
    fake_telegram.chats.clear()
    bot, chat = plugin_doctor_checks(toolbox, "telegram")
    assert bot.ok
    assert not chat.ok and "chat not found" in chat.message
    assert TOKEN not in chat.message

"""toolbox.notify renders a template in the recipient's locale and sends it once, from a job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from toolbox_core.api import NotificationTemplate, PermanentFailure, hookimpl
from toolbox_core.config import Settings
from toolbox_core.kernel import Toolbox
from toolbox_core.providers import Notification


@dataclass
class RecordingChannel:
    id: str = "test-sms"
    kind: str = "sms"
    sent: list[Notification] = field(default_factory=list)
    fail_with: Exception | None = None

    def send(self, notification: Notification) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(notification)
        return f"msg-{len(self.sent)}"


class ChannelPlugin:
    def __init__(self, channel: RecordingChannel) -> None:
        self.channel = channel

    @hookimpl
    def notification_channels(self, toolbox: Any) -> list[Any]:
        return [self.channel]

    @hookimpl
    def notification_templates(self, toolbox: Any) -> list[NotificationTemplate]:
        return [NotificationTemplate("order.placed", {"ru": "Заказ №{number} принят", "uz": "Buyurtma №{number} qabul qilindi"})]


def with_channel(toolbox: Toolbox) -> RecordingChannel:
    channel = RecordingChannel()
    toolbox.plugins.pm.register(ChannelPlugin(channel), name="test.sms")
    return channel


@pytest.fixture
def toolbox(settings: Settings):
    """A kernel whose providers are collected on first use, so a test can add its channel first."""
    tb = Toolbox.create(settings, wire=False)
    yield tb
    tb.close()


def test_hook_notification_templates_fill_the_registry_per_locale(toolbox):
    with_channel(toolbox)
    assert toolbox.templates.render("order.placed", "uz", {"number": "1001"}) == "Buyurtma №1001 qabul qilindi"
    assert toolbox.templates.render("order.placed", "en", {"number": "7"}) == "Заказ №7 принят"  # default locale


def test_settings_texts_win_over_plugin_defaults_and_missing_placeholders_stay(settings):
    toolbox = Toolbox.create(Settings(database_url=settings.database_url, plugins=[], notifications={
        "templates": {"order.placed": {"ru": "№{number}: {total_som}"}}}), wire=False)
    with_channel(toolbox)
    assert toolbox.templates.render("order.placed", "ru", {"number": "12"}) == "№12: {total_som}"
    assert toolbox.templates.text("order.placed", "uz").startswith("Buyurtma")
    toolbox.close()


@pytest.mark.parametrize("text", ["Заказ {number", "Заказ {}", "Итого {order.total}", "{lines[0]}",
                                  "{number!r}", "", "x" * 2001])
def test_a_settings_text_that_could_never_render_is_refused_when_settings_load(text):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"order\.placed"):
        Settings(notifications={"templates": {"order.placed": {"ru": text}}})


def test_literal_braces_and_plain_placeholders_are_accepted(settings):
    loaded = Settings(notifications={"templates": {"order.placed": {"ru": "{{Магазин}} №{number}"}}})
    toolbox = Toolbox.create(Settings(database_url=settings.database_url, plugins=[],
                                      notifications=loaded.notifications), wire=False)
    assert toolbox.templates.render("order.placed", "ru", {"number": "5"}) == "{Магазин} №5"
    toolbox.close()


def test_a_plugin_template_that_could_never_render_is_refused_at_registration():
    from toolbox_core.notifications.templates import TemplateRegistry

    with pytest.raises(ValueError, match=r"order\.placed"):
        TemplateRegistry().register(NotificationTemplate("order.placed", {"ru": "№{number"}))


def test_kernel_has_the_sign_in_code_template_in_both_locales(toolbox):
    assert "123456" in toolbox.templates.render("auth.otp_code", "uz", {"code": "123456", "minutes": 15})
    assert "15 мин" in toolbox.templates.render("auth.otp_code", "ru", {"code": "1", "minutes": 15})


def test_notify_sends_through_the_channel_of_the_kind_from_a_job(toolbox):
    channel = with_channel(toolbox)
    toolbox.notify("order.placed", "+998901234567", "uz", {"number": "1001"}, idempotency_key="evt_1")
    assert channel.sent == []  # only queued
    toolbox.events.drain()
    [sent] = channel.sent
    assert sent.to == "+998901234567" and sent.text == "Buyurtma №1001 qabul qilindi"
    assert sent.template == "order.placed" and sent.idempotency_key == "evt_1"


def test_notify_with_the_same_idempotency_key_sends_once(toolbox):
    channel = with_channel(toolbox)
    toolbox.notify("order.placed", "+998901234567", "ru", {"number": "1"}, idempotency_key="evt_1")
    toolbox.events.drain()
    toolbox.notify("order.placed", "+998901234567", "ru", {"number": "1"}, idempotency_key="evt_1")
    toolbox.events.drain()
    assert len(channel.sent) == 1


def test_notify_resolves_recipient_and_locale_from_the_customer(toolbox):
    from toolbox_core.customers.models import Customer

    channel = with_channel(toolbox)
    with toolbox.db.transaction() as session:
        session.add(Customer(id="cus_1", phone="+998901112233", locale="uz"))
    toolbox.notify("order.placed", data={"customer_id": "cus_1", "number": "5"})
    toolbox.events.drain()
    [sent] = channel.sent
    assert sent.to == "+998901112233" and sent.text.startswith("Buyurtma")


def test_notify_without_recipient_or_channel_is_parked_at_once(toolbox):
    with_channel(toolbox)
    toolbox.notify("order.placed", data={"number": "5"})
    toolbox.notify("order.placed", "shop@example.com", "ru", {"number": "5"})  # no e-mail channel
    toolbox.events.drain(retry_now=True)
    errors = " | ".join(d.last_error for d in toolbox.events.failed())
    assert all(d.attempts == 1 for d in toolbox.events.failed())
    assert "no notification channel of kind 'email'" in errors and "no recipient" in errors


def test_channel_permanent_failure_is_not_retried(toolbox):
    channel = with_channel(toolbox)
    channel.fail_with = PermanentFailure("invalid number")
    toolbox.notify("order.placed", "+998901234567", "ru", {"number": "1"})
    toolbox.events.drain(retry_now=True)
    [parked] = toolbox.events.failed()
    assert parked.attempts == 1 and "invalid number" in parked.last_error


def test_notify_of_an_unknown_template_is_refused(toolbox):
    with pytest.raises(KeyError, match="no notification template"):
        toolbox.notify("nope", "+998901234567")


def test_otp_sender_receives_the_code_and_ttl_and_the_log_sender_writes_the_settings_text(settings, caplog):
    from toolbox_core.customers.otp import request_code

    toolbox = Toolbox.create(Settings(database_url=settings.database_url, plugins=[], debug=True, notifications={
        "templates": {"auth.otp_code": {"uz": "Bu Eskiz dan test {code}"}}}))
    caplog.set_level("WARNING", "toolbox.otp")
    request_code(toolbox, "+998 90 123 45 67", "127.0.0.1", "uz")
    [record] = [r for r in caplog.records if r.name == "toolbox.otp"]
    assert "Bu Eskiz dan test " in record.getMessage() and "+998901234567" in record.getMessage()
    toolbox.close()

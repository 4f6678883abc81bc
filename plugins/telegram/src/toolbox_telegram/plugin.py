"""Hooks of the telegram plugin: the channel, the ``order.placed`` subscriber and doctor checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from toolbox_core.api import DoctorCheck, Event, Notification, Subscriber, Toolbox, hookimpl
from toolbox_telegram.channel import TelegramChannel
from toolbox_telegram.client import TelegramClient
from toolbox_telegram.messages import order_placed_text
from toolbox_telegram.settings import TelegramSettings

KERNEL_API = ">=1.1,<2"
NAME = "telegram"


def _settings(toolbox: Toolbox) -> TelegramSettings:
    return toolbox.plugin_settings(NAME)  # type: ignore[return-value]


def _channel(toolbox: Toolbox) -> Any:
    return toolbox.notification_channels[NAME]


def staff_locale(toolbox: Toolbox) -> str:
    """The language of the staff chat: the plugin's ``locale``, else the shop's default."""
    return _settings(toolbox).locale or toolbox.settings.default_locale


def post_order_placed(event: Event, toolbox: Toolbox) -> None:
    """Subscriber: post a new order to the staff chat (once per event, retried when Telegram is down)."""
    text = order_placed_text(event.payload, staff_locale(toolbox))
    _channel(toolbox).send(Notification(
        to=_settings(toolbox).chat_id, text=text, template="order.placed", data=dict(event.payload),
        idempotency_key=f"order.placed:{event.id}"))


@hookimpl
def settings_model() -> type[BaseModel]:
    return TelegramSettings


@hookimpl
def notification_channels(toolbox: Toolbox) -> list[TelegramChannel]:
    settings = _settings(toolbox)
    return [TelegramChannel(settings, TelegramClient(settings), toolbox.keystore)]


@hookimpl
def event_subscribers(toolbox: Toolbox) -> list[Subscriber]:
    return [Subscriber("telegram.order_placed", ("order.placed",), post_order_placed)]


@hookimpl
def doctor_checks(toolbox: Toolbox) -> list[DoctorCheck]:
    """The token works (``getMe``) and the bot can see the staff chat (``getChat``)."""
    settings = _settings(toolbox)
    client = TelegramClient(settings)
    checks = []
    try:
        me = client.call("getMe")
        checks.append(DoctorCheck("telegram bot", True, f"signed in as @{me.get('username')}"))
        chat = client.call("getChat", chat_id=settings.chat_id)
        title = chat.get("title") or chat.get("username") or chat.get("id")
        checks.append(DoctorCheck("telegram staff chat", True, f"the bot sees {title!s}"))
    except Exception as exc:
        checks.append(DoctorCheck("telegram", False, getattr(exc, "reason", type(exc).__name__)))
    finally:
        client.close()
    return checks


@hookimpl
def shutdown(toolbox: Toolbox) -> None:
    if NAME in toolbox.notification_channels:
        _channel(toolbox).client.close()

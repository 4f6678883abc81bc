"""Built-in plugin: customers, phone sign-in with one-time codes, and the development OTP sender."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from toolbox_core.errors import ServiceUnavailable
from toolbox_core.events.types import EventType
from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.customers"

log = logging.getLogger("toolbox.otp")


class LogOtpSender:
    """Development sender (id ``log``): prints the SMS to the console, only when ``debug`` is on.

    In production it refuses with a 503 so a code never reaches the logs: enable an SMS plugin
    and point ``TOOLBOX_AUTH__OTP_SENDER`` at it.
    """

    id = "log"

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    @property
    def debug(self) -> bool:
        return bool(self.toolbox.settings.debug)

    def send_code(self, phone: str, code: str, ttl: int, locale: str) -> None:
        if not self.debug:
            raise ServiceUnavailable(
                "no SMS sender is configured: enable an SMS plugin and set TOOLBOX_AUTH__OTP_SENDER "
                "(the built-in 'log' sender only works with TOOLBOX_DEBUG=true)",
                code="otp_sender_unavailable",
            )
        from toolbox_core.customers.otp import otp_text

        log.warning("[debug OTP sender] SMS to %s (%s): %s", phone, locale, otp_text(self.toolbox, code, ttl, locale))


@hookimpl
def otp_senders(toolbox: Any) -> list[Any]:
    return [LogOtpSender(toolbox)]


@hookimpl
def register_routes(toolbox: Any) -> list[APIRouter]:
    from toolbox_core.customers import admin_api, store_api

    return [store_api.build_router(), admin_api.build_router()]


@hookimpl
def event_types() -> list[EventType]:
    return [
        EventType(
            "customer.created",
            "A customer was registered (first sign-in or checkout auto-registration with a verified phone).",
            payload={
                "customer_id": "id of the new customer",
                "phone": "normalized phone, +998XXXXXXXXX",
                "locale": "preferred locale (ru, uz)",
            },
        )
    ]

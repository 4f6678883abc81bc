"""Built-in plugin: customers, phone sign-in with one-time codes, and the development OTP sender."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from toolbox_core.errors import ServiceUnavailable
from toolbox_core.events.types import EventType, ScheduledJob
from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.customers"

log = logging.getLogger("toolbox.otp")

#: How often expired sessions and long-expired carts are deleted.
CLEANUP_INTERVAL_SECONDS = 60 * 60


def log_sender_allowed(settings: Any) -> bool:
    """The ``log`` sender delivers only in the embedded mode (a local trial) or with debug on."""
    return bool(settings.debug or settings.is_embedded)


class LogOtpSender:
    """Development sender (id ``log``): prints the code to the console.

    It works only in the embedded mode (SQLite, no Redis: a local trial, the defaults) or with
    ``TOOLBOX_DEBUG=true``. Anywhere else it refuses with a 503 so a code never reaches the
    logs: enable an SMS plugin and point ``TOOLBOX_AUTH__OTP_SENDER`` at it.
    """

    id = "log"

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    def send_code(self, phone: str, code: str, ttl: int, locale: str) -> None:
        if not log_sender_allowed(self.toolbox.settings):
            raise ServiceUnavailable(
                "no SMS sender is configured: enable an SMS plugin and set TOOLBOX_AUTH__OTP_SENDER "
                "(the built-in 'log' sender only works in the embedded mode or with TOOLBOX_DEBUG=true)",
                code="otp_sender_unavailable",
            )
        from toolbox_core.customers.otp import otp_text

        log.warning("sign-in code for %s: %s  (log OTP sender, embedded/debug only; SMS text: %s)",
                    phone, code, otp_text(self.toolbox, code, ttl, locale))


def demo_sign_in_hint(settings: Any) -> str:
    """What ``toolbox serve --demo`` says about phone sign-in (where the codes go)."""
    if settings.auth.otp_sender != LogOtpSender.id:
        return f"sign-in codes are sent by the {settings.auth.otp_sender!r} OTP sender"
    if log_sender_allowed(settings):
        return ("phone sign-in: one-time codes are printed in this console "
                "(\"sign-in code for +998...: 123456\"; log sender, embedded/debug mode only)")
    return ("phone sign-in is off: the 'log' OTP sender prints codes only in the embedded mode or with "
            "TOOLBOX_DEBUG=true; set TOOLBOX_AUTH__OTP_SENDER=eskiz (see `toolbox doctor`)")


def otp_sender_check(toolbox: Any) -> Any:
    """``toolbox doctor``: the configured OTP sender exists and may deliver in this mode."""
    from toolbox_core.doctor import Check

    settings = toolbox.settings
    sender_id = settings.auth.otp_sender
    known = sorted(toolbox.otp_senders)
    if sender_id not in toolbox.otp_senders:
        return Check("otp_sender", False, f"TOOLBOX_AUTH__OTP_SENDER={sender_id!r} is not provided by any enabled "
                                          f"plugin (known: {', '.join(known) or 'none'}): phone sign-in answers 503; "
                                          "enable the SMS plugin (e.g. TOOLBOX_PLUGINS=eskiz) or fix the id")
    if sender_id == LogOtpSender.id:
        if log_sender_allowed(settings):
            return Check("otp_sender", True, "log: sign-in codes are printed to the console (embedded/debug mode "
                                             "only; set TOOLBOX_AUTH__OTP_SENDER=eskiz before going live)")
        return Check("otp_sender", False, "log: the console sender does not deliver outside the embedded mode, so "
                                          "phone sign-in answers 503; enable an SMS plugin and set "
                                          "TOOLBOX_AUTH__OTP_SENDER (e.g. eskiz)")
    return Check("otp_sender", True, f"{sender_id}: delivers sign-in codes")


@hookimpl
def doctor_checks(toolbox: Any) -> list[Any]:
    return [otp_sender_check(toolbox)]


@hookimpl
def scheduled_jobs(toolbox: Any) -> list[ScheduledJob]:
    return [ScheduledJob("customers.cleanup", cleanup_expired, interval_seconds=CLEANUP_INTERVAL_SECONDS,
                         description="Delete expired or revoked sessions and carts expired long ago "
                                     "(bounded batches)")]


def cleanup_expired(toolbox: Any, progress: Any) -> str:
    """Scheduled hourly: drop dead sessions and old expired carts, a bounded batch at a time."""
    from toolbox_core.customers import service

    sessions, carts = service.cleanup_expired(toolbox)
    progress.message(f"{sessions} sessions and {carts} carts deleted")
    return f"{sessions} sessions, {carts} carts deleted"


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

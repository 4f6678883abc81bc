"""One-time codes: request (rate-limited, sent outside any transaction) and verify (at most N tries).

Only a keyed hash of each code lives in the key store. Nothing here looks up customers, so the
answers are the same whether or not an account exists for the phone.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from toolbox_core.asyncutil import resolve
from toolbox_core.customers.phone import normalize_phone
from toolbox_core.errors import (
    BadRequest,
    RateLimited,
    ServiceUnavailable,
    ToolboxError,
    Unauthorized,
)
from toolbox_core.keystore import VerifyOutcome
from toolbox_core.security import keyed_hash, new_token

log = logging.getLogger("toolbox.customers.otp")

CODE_DIGITS = 6
HOUR = 3600
VERIFICATION_PREFIX = "tbx_verify"

MESSAGES = {
    "ru": "Код для входа: {code}. Никому его не сообщайте. Действует {minutes} мин.",
    "uz": "Kirish kodi: {code}. Uni hech kimga aytmang. {minutes} daqiqa amal qiladi.",
}


def code_key(phone: str) -> str:
    return f"otp:code:{phone}"


def cooldown_key(phone: str) -> str:
    return f"otp:resend:{phone}"


def phone_window_key(phone: str) -> str:
    return f"otp:hour:{phone}"


def ip_window_key(ip: str) -> str:
    return f"otp:ip:{ip}"


def verification_key(toolbox: Any, token: str) -> str:
    """Key-store key of a verification token: keyed with the server secret, like codes."""
    return f"otp:verified:{keyed_hash(toolbox.settings.auth.secret_key.get_secret_value(), token)}"


def new_code() -> str:
    """A 6-digit code from the operating system's cryptographic random source."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(toolbox: Any, phone: str, code: str) -> str:
    """The keyed hash stored instead of the code (bound to the phone)."""
    return keyed_hash(toolbox.settings.auth.secret_key.get_secret_value(), f"{phone}:{code}")


def message_text(code: str, locale: str, ttl_seconds: int) -> str:
    """The SMS text in ``locale`` (Russian when the locale has no text)."""
    template = MESSAGES.get(locale, MESSAGES["ru"])
    return template.format(code=code, minutes=max(1, ttl_seconds // 60))


@dataclass(frozen=True)
class CodeSent:
    phone: str
    expires_in: int
    resend_in: int


@dataclass(frozen=True)
class Verified:
    phone: str
    verification_token: str
    expires_in: int


def request_code(toolbox: Any, raw_phone: str, client_ip: str, locale: str) -> CodeSent:
    """Issue a new code for ``raw_phone`` (replacing any previous one) and send it.

    Raises :class:`InvalidPhone` (422), :class:`RateLimited` (429 with ``Retry-After``) or
    :class:`ServiceUnavailable` (503) when the code cannot be sent.
    """
    auth = toolbox.settings.auth
    phone = normalize_phone(raw_phone)
    store = toolbox.keystore
    ip_hit = store.hit(ip_window_key(client_ip), HOUR)
    if ip_hit.count > auth.otp_max_per_ip_per_hour:
        raise RateLimited("too many code requests from this address", retry_after=ip_hit.reset_in)
    if auth.otp_resend_seconds and not store.set_if_absent(cooldown_key(phone), "1", auth.otp_resend_seconds):
        wait = store.ttl(cooldown_key(phone)) or 1
        raise RateLimited(f"a code was just sent; ask again in {wait} s", retry_after=wait)
    phone_hit = store.hit(phone_window_key(phone), HOUR)
    if phone_hit.count > auth.otp_max_per_hour:
        raise RateLimited("too many codes for this phone; try later", retry_after=phone_hit.reset_in)

    code = new_code()
    store.set(code_key(phone), code_hash(toolbox, phone, code), auth.otp_ttl_seconds)
    try:
        _send(toolbox, phone, message_text(code, locale, auth.otp_ttl_seconds), locale)
    except BaseException:
        # Nothing was delivered: drop the code and let the customer retry at once.
        store.delete(code_key(phone))
        store.delete(cooldown_key(phone))
        raise
    return CodeSent(phone=phone, expires_in=auth.otp_ttl_seconds, resend_in=auth.otp_resend_seconds)


def _send(toolbox: Any, phone: str, text: str, locale: str) -> None:
    sender_id = toolbox.settings.auth.otp_sender
    sender = toolbox.otp_senders.get(sender_id)
    if sender is None:
        raise ServiceUnavailable(
            f"OTP sender {sender_id!r} is not available; enable the plugin that provides it "
            "or set TOOLBOX_AUTH__OTP_SENDER",
            code="otp_sender_unavailable",
        )
    try:
        resolve(sender.send_code(phone, text, locale))
    except ToolboxError:
        raise
    except Exception as exc:
        log.warning("OTP sender %r failed: %s", sender_id, type(exc).__name__)
        raise ServiceUnavailable("the code could not be sent; try again shortly", code="otp_send_failed") from exc


def verify_code(toolbox: Any, raw_phone: str, code: str) -> Verified:
    """Check ``code`` for ``raw_phone``; a match consumes it and sets a one-use verification flag.

    Raises :class:`BadRequest` ``invalid_code`` (wrong code, an attempt used), ``code_exhausted``
    (that was the last attempt) or ``code_expired`` (no live code: expired, used or dead).
    """
    auth = toolbox.settings.auth
    phone = normalize_phone(raw_phone)
    outcome = toolbox.keystore.verify_and_consume(code_key(phone), code_hash(toolbox, phone, code), auth.otp_max_attempts)
    if outcome is VerifyOutcome.MISMATCH:
        raise BadRequest("the code is wrong", code="invalid_code")
    if outcome is VerifyOutcome.EXHAUSTED:
        raise BadRequest("the code is wrong and no attempts are left; request a new code", code="code_exhausted")
    if outcome is VerifyOutcome.MISSING:
        raise BadRequest("no valid code for this phone; request a new code", code="code_expired")
    token = new_token(VERIFICATION_PREFIX)
    toolbox.keystore.set(verification_key(toolbox, token), phone, auth.verification_ttl_seconds)
    return Verified(phone=phone, verification_token=token, expires_in=auth.verification_ttl_seconds)


def consume_verification(toolbox: Any, token: str) -> str:
    """The phone a verification token proves, consuming it (one use); 401 when not valid."""
    phone = toolbox.keystore.consume(verification_key(toolbox, token)) if token else None
    if phone is None:
        raise Unauthorized(
            "the phone is not verified (token unknown, used or expired); verify a code first",
            code="verification_required",
        )
    return phone

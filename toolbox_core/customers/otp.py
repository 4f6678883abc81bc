"""One-time codes: request (rate-limited, sent outside any transaction) and verify (at most N tries).

Only a keyed hash of each code lives in the key store, with every counter below, so the limits
hold across processes. Nothing here looks up customers, and a wrong, expired, used or
never-sent code gets the same answer, so no response tells whether an account exists for the
phone or whether someone is signing in with it right now.

Limits: per address (IPv6 per /64) and per phone per hour, a resend cooldown, a store-wide cap
per minute (``otp_busy``), at most ``otp_max_attempts`` checks per code,
``otp_max_failed_per_day`` failed checks per phone across all its codes (then it is locked) and
``otp_verify_max_per_ip_per_hour`` checks per address whatever the phone.

The resend cooldown holds only after a code went out: a sender that raised, or that answered
``False`` (nothing sent, e.g. the SMS gateway refused it; the answer stays the same), leaves
neither the code nor the cooldown behind.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from toolbox_core.asyncutil import resolve
from toolbox_core.clientip import address_bucket
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
MINUTE = 60
HOUR = 3600
DAY = 24 * HOUR
VERIFICATION_PREFIX = "tbx_verify"
#: The one answer to a code that does not verify, whatever the reason.
WRONG_CODE_MESSAGE = "the code is wrong or has expired; check it or request a new code"
#: The store-wide counter of codes sent in the current minute.
GLOBAL_MINUTE_KEY = "otp:minute"


def code_key(phone: str) -> str:
    return f"otp:code:{phone}"


def cooldown_key(phone: str) -> str:
    return f"otp:resend:{phone}"


def phone_window_key(phone: str) -> str:
    return f"otp:hour:{phone}"


def ip_window_key(ip: str) -> str:
    """The hourly counter of an address's requests: IPv6 addresses share their /64's."""
    return f"otp:ip:{address_bucket(ip)}"


def verify_ip_window_key(ip: str) -> str:
    """The hourly counter of an address's code checks: IPv6 addresses share their /64's."""
    return f"otp:verify-ip:{address_bucket(ip)}"


def failed_key(phone: str) -> str:
    """The 24-hour counter of failed checks of a phone, across all its codes: the phone is locked
    (no check, no new code) while it is at ``otp_max_failed_per_day``."""
    return f"otp:failed:{phone}"


def verification_key(toolbox: Any, token: str) -> str:
    """Key-store key of a verification token: keyed with the server secret, like codes."""
    return f"otp:verified:{keyed_hash(toolbox.settings.auth.secret_key.get_secret_value(), token)}"


def new_code() -> str:
    """A 6-digit code from the operating system's cryptographic random source."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(toolbox: Any, phone: str, code: str) -> str:
    """The keyed hash stored instead of the code (bound to the phone)."""
    return keyed_hash(toolbox.settings.auth.secret_key.get_secret_value(), f"{phone}:{code}")


def otp_text(toolbox: Any, code: str, ttl_seconds: int, locale: str) -> str:
    """The sign-in SMS in ``locale``: template ``auth.otp_code`` with ``code`` and ``minutes``."""
    from toolbox_core.notifications.templates import OTP_TEMPLATE

    return toolbox.templates.render(OTP_TEMPLATE, locale, {"code": code, "minutes": max(1, ttl_seconds // 60)})


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
    _refuse_if_locked(store, phone, auth.otp_max_failed_per_day)
    if auth.otp_resend_seconds and not store.set_if_absent(cooldown_key(phone), "1", auth.otp_resend_seconds):
        wait = store.ttl(cooldown_key(phone)) or 1
        raise RateLimited(f"a code was just sent; ask again in {wait} s", retry_after=wait)
    phone_hit = store.hit(phone_window_key(phone), HOUR)
    if phone_hit.count > auth.otp_max_per_hour:
        raise RateLimited("too many codes for this phone; try later", retry_after=phone_hit.reset_in)
    busy = store.hit(GLOBAL_MINUTE_KEY, MINUTE)
    if busy.count > auth.otp_max_per_minute:
        store.delete(cooldown_key(phone))  # nothing was sent: the customer may retry when it clears
        raise RateLimited("the store is sending too many codes right now; try again in a minute",
                          code="otp_busy", retry_after=busy.reset_in)

    code = new_code()
    store.set(code_key(phone), code_hash(toolbox, phone, code), auth.otp_ttl_seconds)
    try:
        sent = _send(toolbox, phone, code, auth.otp_ttl_seconds, locale)
    except BaseException:
        _nothing_sent(store, phone)
        raise
    if not sent:  # the sender refused quietly (same answer): still no code and no delay
        _nothing_sent(store, phone)
    return CodeSent(phone=phone, expires_in=auth.otp_ttl_seconds, resend_in=auth.otp_resend_seconds)


def _nothing_sent(store: Any, phone: str) -> None:
    """Nothing was delivered: drop the code and let the customer retry at once."""
    store.delete(code_key(phone))
    store.delete(cooldown_key(phone))


def _send(toolbox: Any, phone: str, code: str, ttl: int, locale: str) -> bool:
    """Send the code; ``False`` when the sender says it sent nothing (it returned ``False``)."""
    sender_id = toolbox.settings.auth.otp_sender
    sender = toolbox.otp_senders.get(sender_id)
    if sender is None:
        raise ServiceUnavailable(
            f"OTP sender {sender_id!r} is not available; enable the plugin that provides it "
            "or set TOOLBOX_AUTH__OTP_SENDER",
            code="otp_sender_unavailable",
        )
    try:
        return resolve(sender.send_code(phone, code, ttl, locale)) is not False
    except ToolboxError:
        raise
    except Exception as exc:
        log.warning("OTP sender %r failed: %s", sender_id, type(exc).__name__)
        raise ServiceUnavailable("the code could not be sent; try again shortly", code="otp_send_failed") from exc


def verify_code(toolbox: Any, raw_phone: str, code: str, client_ip: str) -> Verified:
    """Check ``code`` for ``raw_phone``; a match consumes it and sets a one-use verification flag.

    Raises :class:`BadRequest` ``invalid_code`` for a code that is wrong, expired, used, dead
    after ``otp_max_attempts`` wrong tries or never sent (one answer for all, counted as a
    failed check), and :class:`RateLimited` ``too_many_attempts`` once the phone has had
    ``otp_max_failed_per_day`` failed checks in 24 h, or :class:`RateLimited` ``rate_limited``
    once ``client_ip`` made ``otp_verify_max_per_ip_per_hour`` checks this hour.

    Each check first takes one of the phone's ``otp_max_failed_per_day`` places in one atomic
    key-store step (:meth:`~toolbox_core.keystore.KeyStore.hit_within`), and a match gives it
    back: however many checks run at once, no more than the cap fail in a day and none looks at
    a code once it is reached (a check in flight holds its place, so one refused at the cap
    might have passed had it waited); that refusal is the lock, no other key is kept for it.
    Each code still gets at most ``otp_max_attempts`` checks and a match consumes it, in one
    atomic step (:meth:`~toolbox_core.keystore.KeyStore.verify_and_consume`): a code signs in once.
    A check is 3 key-store calls, 5 when it matches (the place given back, the verification set).
    """
    auth = toolbox.settings.auth
    phone = normalize_phone(raw_phone)
    store = toolbox.keystore
    ip_hit = store.hit(verify_ip_window_key(client_ip), HOUR)
    if ip_hit.count > auth.otp_verify_max_per_ip_per_hour:
        raise RateLimited("too many code checks from this address", retry_after=ip_hit.reset_in)
    place = store.hit_within(failed_key(phone), DAY, auth.otp_max_failed_per_day)
    if not place.admitted:  # the cap is reached, or the checks in flight hold what is left of it
        raise _locked(place.reset_in)
    try:
        outcome = store.verify_and_consume(code_key(phone), code_hash(toolbox, phone, code), auth.otp_max_attempts)
    except BaseException:
        store.give_back(failed_key(phone))  # no code was compared: not a failed check
        raise
    if outcome is not VerifyOutcome.OK:
        if place.count >= auth.otp_max_failed_per_day:  # this failed check took the last place
            raise _locked(place.reset_in)
        raise BadRequest(WRONG_CODE_MESSAGE, code="invalid_code")
    store.give_back(failed_key(phone))  # a match is not a failed check
    token = new_token(VERIFICATION_PREFIX)
    store.set(verification_key(toolbox, token), phone, auth.verification_ttl_seconds)
    return Verified(phone=phone, verification_token=token, expires_in=auth.verification_ttl_seconds)


def _refuse_if_locked(store: Any, phone: str, cap: int) -> None:
    """No new code for a phone whose failed checks of the day reached ``cap`` (its checks are
    refused by the count itself)."""
    failed = store.window(failed_key(phone))
    if failed is not None and failed.count >= cap:
        raise _locked(failed.reset_in)


def _locked(retry_after: int) -> RateLimited:
    # The same for every phone, registered or not: nothing here looks customers up.
    return RateLimited("too many wrong codes for this phone; try again later",
                       code="too_many_attempts", retry_after=retry_after)


def consume_verification(toolbox: Any, token: str) -> str:
    """The phone a verification token proves, consuming it (one use); 401 when not valid."""
    phone = toolbox.keystore.consume(verification_key(toolbox, token)) if token else None
    if phone is None:
        raise Unauthorized(
            "the phone is not verified (token unknown, used or expired); verify a code first",
            code="verification_required",
        )
    return phone

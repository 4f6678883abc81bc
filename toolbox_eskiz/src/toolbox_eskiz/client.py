"""The Eskiz HTTP client: token in the key store, single-flight refresh, typed errors.

The token (a 30-day JWT) lives in the key store with its expiry, never in process memory
across calls, never in logs. It is refreshed a few days before it expires. On a 401 exactly
one caller across all threads and processes (a key-store lock) refreshes it — or logs in again
when the refresh is refused — and every caller then repeats its request once with the new token.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from toolbox_core.api import KeyStore
from toolbox_eskiz.errors import (
    EskizAuthError,
    EskizError,
    EskizPermanentError,
    EskizTransientError,
)
from toolbox_eskiz.settings import EskizSettings

log = logging.getLogger("toolbox.eskiz")

TOKEN_LIFETIME = 30 * 24 * 3600
#: Eskiz reports dates in Tashkent time (UTC+5, no daylight saving) [inference].
TASHKENT = timezone(timedelta(hours=5))
LOCK_SECONDS = 30
#: How long a caller waits for another's refresh before trying itself.
WAIT_FOR_REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class SendResult:
    """Eskiz's answer to a send: ``request_id`` (UUID) and its status (``waiting``)."""

    request_id: str
    status: str


def token_expiry(token: str) -> float:
    """The JWT's ``exp`` claim (epoch seconds); 30 days from now when it cannot be read."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return time.time() + TOKEN_LIFETIME


def eskiz_phone(phone: str) -> str:
    """``+998901234567`` -> ``998901234567`` (digits only, as Eskiz expects)."""
    return "".join(ch for ch in phone if ch.isdigit())


class EskizClient:
    """Calls Eskiz with one shared connection pool; safe to use from many threads."""

    def __init__(self, settings: EskizSettings, keystore: KeyStore, *, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self.keystore = keystore
        self.http = http or httpx.Client(
            base_url=settings.base_url.rstrip("/"), timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
        self.token_key = f"eskiz:token:{settings.email.lower()}"
        self.lock_key = f"eskiz:token-lock:{settings.email.lower()}"

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ API
    def send(self, phone: str, text: str, *, user_sms_id: str | None = None,
             callback_url: str | None = None) -> SendResult:
        """Send one SMS (form data); raises :class:`EskizTransientError` or ``EskizPermanentError``."""
        form = {"mobile_phone": eskiz_phone(phone), "message": text, "from": self.settings.sender}
        if user_sms_id:
            form["user_sms_id"] = user_sms_id
        if callback_url:
            form["callback_url"] = callback_url
        body = self._call("POST", "/message/sms/send", data=form)
        return SendResult(request_id=str(body.get("id") or ""), status=str(body.get("status") or "waiting"))

    def send_batch(self, messages: list[tuple[str, str, str]], *, dispatch_id: int | None = None,
                   callback_url: str | None = None) -> tuple[str, list[str]]:
        """Send ``(user_sms_id, phone, text)`` messages in one JSON call; ``(request_id, statuses)``."""
        payload: dict[str, Any] = {
            "messages": [{"user_sms_id": sid, "to": int(eskiz_phone(phone)), "text": text}
                         for sid, phone, text in messages],
            "from": self.settings.sender, "callback_url": callback_url or "",
        }
        if dispatch_id is not None:
            payload["dispatch_id"] = dispatch_id
        body = self._call("POST", "/message/sms/send-batch", json=payload)
        statuses = body.get("status")
        statuses = statuses if isinstance(statuses, list) else [statuses] * len(messages)
        return str(body.get("id") or ""), [str(s) for s in statuses]

    def status(self, ident: str) -> dict[str, Any]:
        """The message record for an Eskiz id or request UUID (``data`` of ``status_by_id``)."""
        body = self._call("GET", f"/message/sms/status_by_id/{ident}")
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def find_by_user_sms_id(self, user_sms_id: str, *, since: datetime, max_pages: int = 20) -> SendResult | None:
        """The message we sent with ``user_sms_id`` since ``since`` (``get-user-messages``), if any.

        Used only to settle a send whose worker died before recording Eskiz's answer.
        """
        start = (since.astimezone(TASHKENT) - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
        end = (datetime.now(TASHKENT) + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
        for page in range(1, max_pages + 1):
            body = self._call("POST", f"/message/sms/get-user-messages?page={page}", data={
                "start_date": start, "to_date": end, "page_size": "200", "count": "0"})
            data = body.get("data") if isinstance(body.get("data"), dict) else body
            rows = data.get("result") or []
            for row in rows if isinstance(rows, list) else []:
                if isinstance(row, dict) and str(row.get("user_sms_id") or "") == user_sms_id:
                    return SendResult(request_id=str(row.get("request_id") or ""), status=str(row.get("status") or ""))
            if not data.get("next_page_url"):
                return None
        return None

    def balance(self) -> int:
        """The account balance (``/user/get-limit``), as Eskiz reports it (so'm)."""
        body = self._call("GET", "/user/get-limit")
        data = body.get("data") or {}
        try:
            return int(data.get("balance", 0))
        except (TypeError, ValueError) as exc:
            raise EskizTransientError("unreadable balance in Eskiz's answer") from exc

    def check_token(self) -> float:
        """Make sure a valid token exists (logging in if needed); seconds until it expires."""
        self._call("GET", "/auth/user")
        stored = self._stored()
        return (stored[1] - time.time()) if stored else 0.0

    # ------------------------------------------------------------------ token
    def _stored(self) -> tuple[str, float] | None:
        raw = self.keystore.get(self.token_key)
        if not raw:
            return None
        try:
            value = json.loads(raw)
            return str(value["token"]), float(value["exp"])
        except (ValueError, KeyError, TypeError):
            return None

    def _store(self, token: str) -> None:
        exp = token_expiry(token)
        ttl = int(exp - time.time())
        if ttl > 0:
            self.keystore.set(self.token_key, json.dumps({"token": token, "exp": exp}), ttl)

    def _token(self) -> str:
        """A current token: the stored one, refreshed first when it is about to expire."""
        stored = self._stored()
        if stored is None:
            return self._renew(None)
        token, exp = stored
        if exp - time.time() < self.settings.refresh_before_seconds:
            return self._renew(token)
        return token

    def _renew(self, stale: str | None) -> str:
        """Single-flight: one caller refreshes (or logs in); the others wait for its token."""
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + WAIT_FOR_REFRESH_SECONDS
        while True:
            stored = self._stored()
            if stored is not None and stored[0] != stale and stored[1] - time.time() > 60:
                return stored[0]
            if self.keystore.set_if_absent(self.lock_key, owner, LOCK_SECONDS):
                try:
                    stored = self._stored()  # renewed while we took the lock?
                    if stored is not None and stored[0] != stale and stored[1] - time.time() > 60:
                        return stored[0]
                    token = self._refresh(stale) if stale else None
                    token = token or self._login()
                    self._store(token)
                    return token
                finally:
                    self.keystore.compare_and_consume(self.lock_key, owner)
            if time.monotonic() > deadline:
                raise EskizTransientError("timed out waiting for another process to renew the Eskiz token")
            time.sleep(0.02)

    def _refresh(self, token: str) -> str | None:
        """``PATCH /auth/refresh`` with the current token; ``None`` when Eskiz refuses it."""
        response = self._raw("PATCH", "/auth/refresh", headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            log.info("Eskiz refused the token refresh (HTTP %d); logging in again", response.status_code)
            return None
        return _token_of(response)

    def _login(self) -> str:
        response = self._raw("POST", "/auth/login", data={
            "email": self.settings.email, "password": self.settings.password.get_secret_value()})
        if response.status_code in (400, 401, 403, 422):
            raise EskizAuthError("Eskiz refused the login: check TOOLBOX_ESKIZ__EMAIL and the API secret "
                                 "(TOOLBOX_ESKIZ__PASSWORD, from the my.eskiz.uz cabinet)", status=response.status_code)
        _raise_for(response)
        token = _token_of(response)
        if not token:
            raise EskizTransientError("Eskiz's login answer has no token", status=response.status_code)
        return token

    # ------------------------------------------------------------------ transport
    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """An authorized call: on 401 renew the token once (single-flight) and repeat once."""
        token = self._token()
        response = self._raw(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code == 401:
            token = self._renew(token)
            response = self._raw(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            if response.status_code == 401:
                raise EskizAuthError("Eskiz refused a freshly renewed token", status=401)
        _raise_for(response)
        return _json(response)

    def _raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise EskizTransientError(f"Eskiz did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise EskizTransientError(f"cannot reach Eskiz ({type(exc).__name__})") from exc


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _token_of(response: httpx.Response) -> str | None:
    data = _json(response).get("data") or {}
    token = data.get("token") if isinstance(data, dict) else None
    return str(token) if token else None


def _message_of(response: httpx.Response) -> str:
    body = _json(response)
    message = body.get("message")
    if not message and isinstance(body.get("data"), dict):
        message = body["data"].get("alert")
    return str(message or response.reason_phrase or "error")[:300]


def _raise_for(response: httpx.Response) -> None:
    """Map an HTTP answer to the typed errors (2xx passes)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"Eskiz answered HTTP {status}: {_message_of(response)}"
    if status == 429 or status >= 500 or status == 408:
        retry_after = response.headers.get("retry-after")
        try:
            after = float(retry_after) if retry_after else None
        except ValueError:
            after = None
        raise EskizTransientError(message, status=status, retry_after=after)
    raise EskizPermanentError(message, status=status)


__all__ = ["EskizClient", "EskizError", "SendResult", "eskiz_phone", "token_expiry"]

"""The BTS Express API client (spec §3.1): tokens in the key store, the envelope parsed into typed errors.

* ``POST /auth/login`` → access (1 day) and refresh (30 days) tokens, kept in the key store
  (shared by every process) with a margin under their lifetime;
* a 401 refreshes the pair (``POST /auth/refresh``), then logs in again if that fails, and the
  call is retried once; one process refreshes at a time (a key-store lock);
* replies are ``{"status", "message", "status_code", "data"}``: ``status: false`` or an error
  ``status_code`` inside a 200 is an error too; 422 carries ``errors: {field: [messages]}``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from toolbox_bts.settings import BtsSettings
from toolbox_core.api import KeyStore

log = logging.getLogger("toolbox.bts")

ACCESS_KEY = "bts:token:access"
REFRESH_KEY = "bts:token:refresh"
LOCK_KEY = "bts:token:lock"
ACCESS_TTL = 23 * 3600
REFRESH_TTL = 29 * 86400


class BtsError(Exception):
    """Any failure talking to BTS. ``message`` is BTS's text (never contains our secrets)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class BtsUnavailable(BtsError):
    """BTS could not be reached, timed out or answered 5xx: worth retrying later."""


class BtsAuthError(BtsError):
    """The login or password is refused."""


class BtsApiError(BtsError):
    """BTS refused the request (``status: false`` or a 4xx)."""


class BtsValidationError(BtsApiError):
    """A 422: ``errors`` maps each field to BTS's messages."""

    def __init__(self, message: str, errors: dict[str, list[str]], *, status: int | None = 422) -> None:
        super().__init__(message, status=status)
        self.errors = errors


def _errors(body: dict[str, Any]) -> dict[str, list[str]]:
    raw = body.get("errors") or {}
    if isinstance(raw, list):  # Yii also answers [{"field": ..., "message": ...}]
        return {str(e.get("field", "")): [str(e.get("message", ""))] for e in raw if isinstance(e, dict)}
    if isinstance(raw, dict):
        return {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in raw.items()}
    return {}


def parse_envelope(response: httpx.Response) -> Any:
    """``data`` of a BTS reply, or the typed error the reply stands for."""
    status = response.status_code
    if status >= 500:
        raise BtsUnavailable(f"BTS answered HTTP {status}", status=status)
    try:
        body = response.json()
    except ValueError:
        raise BtsUnavailable(f"BTS answered HTTP {status} with a non-JSON body", status=status) from None
    if not isinstance(body, dict):
        raise BtsApiError("BTS answered an unexpected body", status=status)
    message = str(body.get("message") or body.get("name") or "")
    inner = body.get("status_code")
    inner = inner if isinstance(inner, int) and not isinstance(inner, bool) else None
    if status == 422 or inner == 422:
        raise BtsValidationError(message or "validation failed", _errors(body))
    if status == 401 or inner == 401:
        raise BtsAuthError(message or "unauthorized", status=401)
    if status >= 400 or body.get("status") is False or (inner is not None and inner >= 400):
        raise BtsApiError(message or f"BTS refused the request (HTTP {status})", status=inner or status)
    return body.get("data")


class BtsClient:
    """Calls the BTS API; one per process (it keeps a connection pool, nothing sensitive)."""

    def __init__(self, settings: BtsSettings, keystore: KeyStore, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.keystore = keystore
        self.http = httpx.Client(base_url=settings.api_url, timeout=settings.timeout_seconds, transport=transport,
                                 headers={"Accept": "application/json", "Content-Type": "application/json"})

    def close(self) -> None:
        self.http.close()

    # -------------------------------------------------------------- tokens
    def _post_auth(self, path: str, body: dict[str, Any]) -> str:
        try:
            response = self.http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise BtsUnavailable(f"BTS auth unreachable: {type(exc).__name__}") from exc
        data = parse_envelope(response)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise BtsAuthError("BTS returned no access token")
        self.keystore.set(ACCESS_KEY, str(data["access_token"]), ACCESS_TTL)
        if data.get("refresh_token"):
            self.keystore.set(REFRESH_KEY, str(data["refresh_token"]), REFRESH_TTL)
        return str(data["access_token"])

    def login(self) -> str:
        """Log in with the configured credentials; stores and returns the access token."""
        try:
            return self._post_auth("/auth/login", {"login": self.settings.login,
                                                   "password": self.settings.password.get_secret_value()})
        except BtsApiError as exc:
            raise BtsAuthError(f"BTS refused the login: {exc.message}", status=exc.status) from exc

    def refresh(self) -> str:
        """Renew the pair with the refresh token; log in again when that fails."""
        refresh_token = self.keystore.get(REFRESH_KEY)
        if refresh_token:
            try:
                return self._post_auth("/auth/refresh", {"refresh_token": refresh_token})
            except (BtsApiError, BtsAuthError):
                log.info("BTS refresh token refused; logging in again")
                self.keystore.delete(REFRESH_KEY)
        return self.login()

    def access_token(self, *, renew: bool = False, stale: str | None = None) -> str:
        """A live access token; with ``renew``, a new one unless another process already renewed ``stale``."""
        deadline = time.monotonic() + self.settings.timeout_seconds
        while True:
            token = self.keystore.get(ACCESS_KEY)
            if token and not (renew and token == stale):
                return token
            if self.keystore.set_if_absent(LOCK_KEY, "1", int(self.settings.timeout_seconds) + 5):
                try:
                    return self.refresh() if renew or self.keystore.get(REFRESH_KEY) else self.login()
                finally:
                    self.keystore.delete(LOCK_KEY)
            if time.monotonic() > deadline:
                raise BtsUnavailable("waited too long for another process to renew the BTS token")
            time.sleep(0.05)

    # -------------------------------------------------------------- calls
    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: Any = None, language: str | None = None) -> Any:
        """One API call (``path`` under ``/v1``); a rejected token is renewed once."""
        token = self.access_token()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "language": language or self.settings.language}
            try:
                response = self.http.request(method, path, params=params, json=json, headers=headers)
            except httpx.HTTPError as exc:
                raise BtsUnavailable(f"BTS unreachable: {type(exc).__name__}") from exc
            try:
                return parse_envelope(response)
            except BtsAuthError:
                if attempt == 2:
                    raise
                token = self.access_token(renew=True, stale=token)
        raise AssertionError("unreachable")  # pragma: no cover

    def paged(self, path: str, params: dict[str, Any], *, language: str | None = None,
              max_pages: int = 50) -> list[dict[str, Any]]:
        """All ``items`` of a Yii-paginated list (``page``, ``per-page``)."""
        items: list[dict[str, Any]] = []
        for page in range(1, max_pages + 1):
            data = self.call("GET", path, params={**params, "page": page, "per-page": 200}, language=language)
            batch = (data or {}).get("items", []) if isinstance(data, dict) else (data or [])
            items.extend(i for i in batch if isinstance(i, dict))
            meta = (data or {}).get("_meta") if isinstance(data, dict) else None
            if not batch:
                break
            if isinstance(meta, dict) and "pageCount" in meta:
                if int(meta["pageCount"] or 0) <= page:
                    break
            elif len(batch) < 200:
                break
        return items

    def download(self, url: str) -> bytes:
        """A document BTS links to (the label PDF)."""
        try:
            response = self.http.get(url, headers={"Authorization": f"Bearer {self.access_token()}"})
        except httpx.HTTPError as exc:
            raise BtsUnavailable(f"BTS unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise BtsUnavailable(f"BTS answered HTTP {response.status_code} for the document")
        return response.content

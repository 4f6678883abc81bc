"""A thin httpx client of the MoySklad JSON API 1.2 that never gets the account banned.

* Every request carries ``Accept-Encoding: gzip`` (without it MoySklad answers 415) and the
  documented ``Accept: application/json;charset=utf-8``.
* All limits live in the key store, shared by every process using the same credential:
  a weighted fixed-window budget (``rate_budget`` units per ``rate_window_seconds``; stock
  reports cost ``heavy_weight``), at most ``max_in_flight`` requests at once (slots), and a
  pause: after a 429 nothing at all is sent until ``X-Lognex-Retry-After`` has passed.
* Only a 429 is retried (after the pause), and a GET after a 5xx or a network error (a GET is
  safe to repeat), a few times. Any other 4xx raises at once (MoySklad bans clients that repeat
  failing requests). Errors are typed from the ``errors`` body.
* With ``login``/``password`` the token is obtained once, under a key-store lock, and kept in
  the key store: issuing a token revokes the previous ones, so parallel workers never do it.
"""

from __future__ import annotations

import base64
import logging
import random
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from toolbox_core.api import KeyStore
from toolbox_moysklad.settings import MoySkladSettings

log = logging.getLogger("toolbox.moysklad")

ACCEPT = "application/json;charset=utf-8"
#: Paths whose requests cost ``heavy_weight`` units (MoySklad: 5, any auth, since Feb 2026).
HEAVY_PATHS = ("/report/stock/all", "/report/stock/bystore")
TOKEN_TTL_SECONDS = 30 * 24 * 3600
MAX_429_RETRIES = 8
MAX_5XX_RETRIES = 3


class MoySkladError(Exception):
    """A failed MoySklad request: HTTP ``status``, the first error ``code`` and all ``errors``."""

    def __init__(self, status: int, errors: list[dict[str, Any]] | None = None, message: str | None = None) -> None:
        self.status = status
        self.errors = errors or []
        first = self.errors[0] if self.errors else {}
        self.code: int = int(first.get("code") or status)
        self.message = message or str(first.get("error") or f"HTTP {status}")
        super().__init__(f"MoySklad {status} (code {self.code}): {self.message}")


class AuthFailed(MoySkladError):
    """401/403: bad credentials, a revoked token or missing permissions (fix the settings)."""


class RateLimitExceeded(MoySkladError):
    """429 (1049 too many requests, 1073 too many in parallel) that kept coming back."""


class NotFound(MoySkladError):
    """404 / code 1021."""


class ServerError(MoySkladError):
    """5xx or a network failure that persisted over the retries."""


class Unreachable(ServerError):
    """No answer at all: a network failure (refused, timed out, DNS, TLS) that persisted over the
    retries. ``status`` is 0 (no HTTP status); ``reason`` is the exception kind (``ConnectError``)."""

    def __init__(self, url: str, exc: Exception) -> None:
        parts = urlsplit(url)
        self.reason = type(exc).__name__
        super().__init__(0, message=f"MoySklad could not be reached at {parts.scheme}://{parts.netloc} "
                                    f"({self.reason}): check the network and TOOLBOX_MOYSKLAD__BASE_URL")
        self.args = (self.message,)

    def __str__(self) -> str:
        return self.message


def error_for(response: httpx.Response) -> MoySkladError:
    """The typed error of a non-2xx response (body ``{"errors": [...]}``; may be empty)."""
    errors: list[dict[str, Any]] = []
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            errors = [e for e in body["errors"] if isinstance(e, dict)][:20]
    except ValueError:
        pass
    status = response.status_code
    kind = (AuthFailed if status in (401, 403) else RateLimitExceeded if status == 429
            else NotFound if status == 404 else ServerError if status >= 500 else MoySkladError)
    message = response.headers.get("X-Lognex-Auth-Message") if status == 401 else None
    return kind(status, errors, message)


#: Extra wait after the local rate window resets (see ``_wait_for_budget``).
WINDOW_MARGIN_SECONDS = 0.1


class MoySkladClient:
    """One credential's client; cheap to create, thread-safe (httpx client), state in the key store."""

    def __init__(self, settings: MoySkladSettings, keystore: KeyStore, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.keystore = keystore
        self.base_url = settings.base_url.rstrip("/")
        self.prefix = f"moysklad:{settings.credential_id}"
        self.requests = 0
        self.http = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_seconds, connect=min(10.0, settings.timeout_seconds)),
            headers={"Accept-Encoding": "gzip", "Accept": ACCEPT, "User-Agent": "toolbox-moysklad"},
            transport=transport, follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> MoySkladClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public calls
    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> Any:
        """GET a path (``/report/stock/all``) or a full URL of this API; returns the JSON body."""
        return self.request("GET", path_or_url, params=params)

    def pages(self, path: str, params: dict[str, Any] | None = None, *,
              start_url: str | None = None) -> Iterator[tuple[dict[str, Any], str | None]]:
        """Pages of a list endpoint following ``meta.nextHref``: ``(page, next_url)`` pairs.

        ``start_url`` resumes at a ``nextHref`` kept from an earlier run.
        """
        url: str | None = start_url
        page = self.get(path, params) if url is None else self.get(url)
        while True:
            url = (page.get("meta") or {}).get("nextHref")
            yield page, url
            if not url:
                return
            page = self.get(url)

    def request(self, method: str, path_or_url: str, *, params: dict[str, Any] | None = None,
                json: Any = None) -> Any:
        url = self._url(path_or_url)
        weight = self.settings.heavy_weight if urlsplit(url).path.endswith(HEAVY_PATHS) else \
            self.settings.request_weight
        reauthed = False
        attempts_429 = attempts_5xx = 0
        while True:
            try:
                response = self._send(method, url, params=params, json=json, weight=weight)
            except httpx.TransportError as exc:
                attempts_5xx += 1
                if method != "GET" or attempts_5xx > MAX_5XX_RETRIES:
                    raise Unreachable(url, exc) from exc
                time.sleep(min(8.0, 0.5 * 2 ** attempts_5xx))
                continue
            status = response.status_code
            if status < 300:
                return response.json() if response.content else None
            if status == 429:
                attempts_429 += 1
                self._pause_after_429(response, attempts_429)
                if attempts_429 > MAX_429_RETRIES:
                    raise error_for(response)
                continue
            if status >= 500 and method == "GET" and attempts_5xx < MAX_5XX_RETRIES:
                attempts_5xx += 1
                time.sleep(min(8.0, 0.5 * 2 ** attempts_5xx))
                continue
            if status == 401 and self.settings.token is None and not reauthed:
                # The stored token was revoked (someone issued a new one): get one, once.
                reauthed = True
                self._drop_token()
                continue
            raise error_for(response)

    # ------------------------------------------------------------------ plumbing
    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if not self.is_own_url(path_or_url):
                raise ValueError("refusing a URL outside the configured MoySklad API")
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

    def is_own_url(self, url: str) -> bool:
        """True when ``url`` is on the configured API (scheme, host, port and path prefix)."""
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return (theirs.scheme, theirs.netloc) == (mine.scheme, mine.netloc) and \
            (theirs.path + "/").startswith(mine.path.rstrip("/") + "/")

    def _send(self, method: str, url: str, *, params: dict[str, Any] | None, json: Any,
              weight: int) -> httpx.Response:
        headers = {"Authorization": self._authorization()}
        if json is not None:
            headers["Content-Type"] = "application/json"
        self._wait_for_budget(weight)
        slot = self._take_slot()
        try:
            self._wait_while_paused()  # a 429 may have arrived while we queued for a slot
            self.requests += 1
            return self.http.request(method, url, params=params, json=json, headers=headers)
        finally:
            self.keystore.compare_and_consume(slot[0], slot[1])

    def _wait_while_paused(self) -> None:
        key = f"{self.prefix}:pause"
        while True:
            until = self.keystore.get(key)
            left = (float(until) - time.time()) if until else 0.0
            if left <= 0:
                return
            time.sleep(min(left, 1.0))

    def _wait_for_budget(self, weight: int) -> None:
        s = self.settings
        key = f"{self.prefix}:rate"
        while True:
            self._wait_while_paused()
            hit = self.keystore.hit(key, s.rate_window_seconds, amount=weight)
            if hit.count <= s.rate_budget:
                return
            # Wait past our window's end with a margin: MoySklad's window starts when our first
            # request arrives, a little after we counted it, so sending right at our reset can
            # still land inside its previous window and draw a 429.
            time.sleep(max(hit.reset_in_ms, 1) / 1000 + WINDOW_MARGIN_SECONDS)

    def _take_slot(self) -> tuple[str, str]:
        token = secrets.token_hex(8)
        ttl = int(self.settings.timeout_seconds) + 5
        while True:
            for number in random.sample(range(self.settings.max_in_flight), self.settings.max_in_flight):
                key = f"{self.prefix}:slot:{number}"
                if self.keystore.set_if_absent(key, token, ttl):
                    return key, token
            time.sleep(0.005)

    def _pause_after_429(self, response: httpx.Response, attempt: int) -> None:
        header = response.headers.get("X-Lognex-Retry-After") or response.headers.get("X-Lognex-Reset")
        try:
            wait = max(0.0, float(header) / 1000) if header else 0.0
        except ValueError:
            wait = 0.0
        if wait <= 0:
            wait = min(30.0, 0.5 * 2 ** attempt)  # no header (the parallel limit, 1073): back off
        until = time.time() + wait + 0.01
        ttl = int(wait) + 2
        current = self.keystore.get(f"{self.prefix}:pause")
        if not current or float(current) < until:
            self.keystore.set(f"{self.prefix}:pause", f"{until:.3f}", ttl)
        log.warning("MoySklad said 429 (%s); every process waits %.2f s", error_for(response).code, wait)

    # ------------------------------------------------------------------ auth
    def _authorization(self) -> str:
        s = self.settings
        if s.token is not None:
            return f"Bearer {s.token.get_secret_value()}"
        return f"Bearer {self._stored_token()}"

    def _drop_token(self) -> None:
        self.keystore.delete(f"{self.prefix}:token")

    def _stored_token(self) -> str:
        key, lock = f"{self.prefix}:token", f"{self.prefix}:token-lock"
        deadline = time.monotonic() + self.settings.timeout_seconds + 10
        while time.monotonic() < deadline:
            token = self.keystore.get(key)
            if token:
                return token
            mine = secrets.token_hex(8)
            if self.keystore.set_if_absent(lock, mine, int(self.settings.timeout_seconds) + 10):
                try:
                    token = self.keystore.get(key) or self._issue_token()
                    self.keystore.set(key, token, TOKEN_TTL_SECONDS)
                    return token
                finally:
                    self.keystore.compare_and_consume(lock, mine)
            time.sleep(0.05)  # another worker is obtaining it
        raise AuthFailed(401, message="timed out waiting for another worker to obtain the token")

    def _issue_token(self) -> str:
        s = self.settings
        assert s.login and s.password
        basic = base64.b64encode(f"{s.login}:{s.password.get_secret_value()}".encode()).decode()
        self._wait_for_budget(s.request_weight)
        self._wait_while_paused()
        self.requests += 1
        url = self._url("/security/token")
        try:
            response = self.http.post(url, headers={"Authorization": f"Basic {basic}"})
        except httpx.TransportError as exc:
            raise Unreachable(url, exc) from exc
        if response.status_code >= 300:
            raise error_for(response)
        token = (response.json() or {}).get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthFailed(response.status_code, message="no access_token in the reply")
        return token

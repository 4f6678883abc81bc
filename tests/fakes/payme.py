"""A fake of Payme's side of the Merchant API: it calls a merchant endpoint the way Payme does.

Written from the protocol (``/work/shared/specs/payments.md`` §1), not from our plugin:

* JSON-RPC 2.0 over HTTP POST, named params, ``Content-Type: text/json; charset=UTF-8`` as in
  Payme's examples, an integer request ``id``;
* HTTP Basic auth ``Paycom:<kassa key>``;
* Payme ids are 24-character hex strings; times are 13-digit Unix milliseconds;
* every reply is checked against the protocol: HTTP 200, the same ``id``, ``result`` XOR
  ``error``, an integer ``code`` and a ``message`` with ``ru``, ``uz`` and ``en`` texts.
  A reply that breaks these rules raises :class:`ProtocolViolation`.

The sandbox sends Create, Perform and Cancel twice and requires identical replies;
:meth:`PaymeClient.twice` does the same.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx


class ProtocolViolation(AssertionError):
    """The merchant answered outside the Merchant API protocol."""


@dataclass(frozen=True)
class Reply:
    """One checked JSON-RPC reply."""

    id: Any
    result: dict[str, Any] | None
    error: dict[str, Any] | None

    @property
    def code(self) -> int | None:
        return self.error["code"] if self.error else None


def payme_id() -> str:
    """A new Payme transaction id (24 hex characters, like Payme's object ids)."""
    return secrets.token_hex(12)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class PaymeClient:
    """Calls ``<base_url><path>`` as Payme would."""

    def __init__(self, base_url: str, key: str, *, path: str = "/payme/callback", login: str = "Paycom",
                 account_field: str = "order_id", timeout: float = 10.0) -> None:
        self.url = base_url.rstrip("/") + path
        self.login, self.key, self.account_field = login, key, account_field
        self.http = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ transport
    def auth_header(self, login: str | None = None, key: str | None = None) -> str:
        raw = f"{login if login is not None else self.login}:{key if key is not None else self.key}"
        return "Basic " + base64.b64encode(raw.encode()).decode()

    def call(self, method: str, params: dict[str, Any], *, authorization: str | None = "default") -> Reply:
        request_id = next(self._ids)
        headers = {"Content-Type": "text/json; charset=UTF-8"}
        if authorization == "default":
            headers["Authorization"] = self.auth_header()
        elif authorization is not None:
            headers["Authorization"] = authorization
        response = self.http.post(self.url, json={"method": method, "params": params, "id": request_id},
                                  headers=headers)
        return self.check(response, request_id)

    def raw(self, content: bytes, *, http_method: str = "POST", authorization: str | None = "default") -> Reply:
        headers = {"Content-Type": "text/json; charset=UTF-8"}
        if authorization == "default":
            headers["Authorization"] = self.auth_header()
        response = self.http.request(http_method, self.url, content=content, headers=headers)
        return self.check(response, None)

    @staticmethod
    def check(response: httpx.Response, request_id: Any) -> Reply:
        if response.status_code != 200:
            raise ProtocolViolation(f"HTTP {response.status_code}: Payme treats it as -32400 ({response.text[:200]})")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolViolation(f"not JSON: {response.text[:200]}") from exc
        if not isinstance(body, dict):
            raise ProtocolViolation(f"not a JSON object: {body!r}")
        if ("result" in body) == ("error" in body):
            raise ProtocolViolation(f"exactly one of result/error must be present: {body!r}")
        if request_id is not None and body.get("id") != request_id:
            raise ProtocolViolation(f"id {body.get('id')!r} does not echo the request id {request_id}")
        error = body.get("error")
        if error is not None:
            if not isinstance(error.get("code"), int) or isinstance(error.get("code"), bool):
                raise ProtocolViolation(f"error code must be an integer: {error!r}")
            message = error.get("message")
            if not isinstance(message, dict) or not all(isinstance(message.get(k), str) and message[k]
                                                         for k in ("ru", "uz", "en")):
                raise ProtocolViolation(f"error message must have ru, uz and en texts: {error!r}")
            if -31099 <= error["code"] <= -31050 and not error.get("data"):
                raise ProtocolViolation(f"an account error must name the account field in data: {error!r}")
        return Reply(body.get("id"), body.get("result"), error)

    def twice(self, method: str, params: dict[str, Any]) -> Reply:
        """Send the same call twice (as the sandbox does) and require identical replies."""
        first, second = self.call(method, params), self.call(method, params)
        if (first.result, first.error) != (second.result, second.error):
            raise ProtocolViolation(f"{method} answered differently the second time: {first} vs {second}")
        return first

    # ------------------------------------------------------------------ methods
    def account(self, number: str) -> dict[str, str]:
        return {self.account_field: number}

    def check_perform(self, number: str, amount: int) -> Reply:
        return self.call("CheckPerformTransaction", {"amount": amount, "account": self.account(number)})

    def create(self, transaction_id: str, number: str, amount: int, *, at: int | None = None,
               repeat: bool = False) -> Reply:
        params = {"id": transaction_id, "time": at or now_ms(), "amount": amount, "account": self.account(number)}
        return self.twice("CreateTransaction", params) if repeat else self.call("CreateTransaction", params)

    def perform(self, transaction_id: str, *, repeat: bool = False) -> Reply:
        params = {"id": transaction_id}
        return self.twice("PerformTransaction", params) if repeat else self.call("PerformTransaction", params)

    def cancel(self, transaction_id: str, reason: int, *, repeat: bool = False) -> Reply:
        params = {"id": transaction_id, "reason": reason}
        return self.twice("CancelTransaction", params) if repeat else self.call("CancelTransaction", params)

    def check_transaction(self, transaction_id: str) -> Reply:
        return self.call("CheckTransaction", {"id": transaction_id})

    def statement(self, start: int, end: int) -> Reply:
        return self.call("GetStatement", {"from": start, "to": end})

    def set_fiscal_data(self, transaction_id: str, kind: str, fiscal_data: dict[str, Any]) -> Reply:
        return self.call("SetFiscalData", {"id": transaction_id, "type": kind, "fiscal_data": fiscal_data})

    def change_password(self, password: str) -> Reply:
        return self.call("ChangePassword", {"password": password})

"""Click Merchant API client (merchant → Click), on httpx.

Base URL ``https://api.click.uz/v2/merchant/``; every call carries
``Auth: merchant_user_id:sha1(timestamp + secret_key):timestamp`` (10-digit Unix seconds) and
JSON ``Accept``/``Content-Type``. Replies carry ``error_code`` (0 = OK) and ``error_note``.

Every call has a timeout. Only reads are retried (a lost reply to a status read is harmless to
repeat); a reversal or an invoice is sent once, because repeating it could act twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from toolbox_click.protocol import tiyin_to_som
from toolbox_click.settings import ClickSettings

log = logging.getLogger("toolbox.click")

#: Attempts of a read (status) call, and the pause before each retry.
READ_ATTEMPTS = 3
READ_BACKOFF_SECONDS = (0.2, 0.5)


class ClickApiError(Exception):
    """Click answered with an error (``error_code`` ≠ 0, or an HTTP error status)."""

    def __init__(self, message: str, *, error_code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class ClickUnavailable(ClickApiError):
    """Click could not be reached (connection error, timeout, 5xx)."""


class ClickMerchantApi:
    """The Merchant API calls the plugin makes: status reads, reversal, invoices."""

    def __init__(self, settings: ClickSettings, *, clock: Callable[[], float] = time.time,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._client = httpx.Client(base_url=settings.api_url, transport=transport,
                                    timeout=httpx.Timeout(settings.http_timeout_seconds))

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ auth
    def auth_header(self) -> str:
        """``merchant_user_id:sha1(timestamp + secret_key):timestamp``."""
        if self.settings.merchant_user_id is None:
            raise ClickApiError("TOOLBOX_CLICK__MERCHANT_USER_ID is not set; the Merchant API needs it")
        timestamp = str(int(self.clock()))
        digest = hashlib.sha1((timestamp + self.settings.secret_key.get_secret_value()).encode()).hexdigest()
        return f"{self.settings.merchant_user_id}:{digest}:{timestamp}"

    # ------------------------------------------------------------------ calls
    def payment_status(self, payment_id: int) -> dict[str, Any]:
        """``GET payment/status/:service_id/:payment_id`` (retried)."""
        return self._read(f"payment/status/{self.settings.service_id}/{int(payment_id)}")

    def payment_status_by_mti(self, merchant_trans_id: str, day: date) -> dict[str, Any]:
        """``GET payment/status_by_mti/:service_id/:merchant_trans_id/YYYY-MM-DD`` (retried)."""
        mti = quote(str(merchant_trans_id), safe="")
        return self._read(f"payment/status_by_mti/{self.settings.service_id}/{mti}/{day.isoformat()}")

    def invoice_status(self, invoice_id: int) -> dict[str, Any]:
        """``GET invoice/status/:service_id/:invoice_id`` (retried)."""
        return self._read(f"invoice/status/{self.settings.service_id}/{int(invoice_id)}")

    def reversal(self, payment_id: int) -> dict[str, Any]:
        """``DELETE payment/reversal/:service_id/:payment_id``: return a payment to the payer (sent once)."""
        return self._send("DELETE", f"payment/reversal/{self.settings.service_id}/{int(payment_id)}")

    def create_invoice(self, *, amount: int, phone: str, merchant_trans_id: str) -> dict[str, Any]:
        """``POST invoice/create``: Click asks the payer (by phone) to pay ``amount`` tiyin (sent once).

        ``amount`` goes out as Click's so'm decimal (``1500.00``) written from integer tiyin;
        ``phone`` as digits without ``+`` (``998901234567``).
        """
        body = (f'{{"service_id": {self.settings.service_id}, "amount": {tiyin_to_som(amount)}, '
                f'"phone_number": {json.dumps(phone.lstrip("+"))}, '
                f'"merchant_trans_id": {json.dumps(merchant_trans_id)}}}')
        return self._send("POST", "invoice/create", content=body)

    def probe(self) -> str:
        """One status read of a payment that does not exist (no retry), for ``toolbox doctor``.

        Returns a plain message; raises :class:`ClickApiError` when Click rejects our ``Auth``
        (HTTP 401/403) and :class:`ClickUnavailable` when it cannot be reached.
        """
        try:
            self._send("GET", f"payment/status/{self.settings.service_id}/0")
        except ClickUnavailable:
            raise
        except ClickApiError as exc:
            if exc.status in (401, 403):
                raise
            return f"reachable, Auth accepted (probe answered {exc.error_code})"
        return "reachable, Auth accepted"

    # ------------------------------------------------------------------ transport
    def _headers(self) -> dict[str, str]:
        return {"Auth": self.auth_header(), "Accept": "application/json", "Content-Type": "application/json"}

    def _read(self, path: str) -> dict[str, Any]:
        for attempt in range(READ_ATTEMPTS):
            try:
                return self._send("GET", path)
            except ClickUnavailable:
                if attempt == READ_ATTEMPTS - 1:
                    raise
                time.sleep(READ_BACKOFF_SECONDS[min(attempt, len(READ_BACKOFF_SECONDS) - 1)])
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, path: str, *, content: str | None = None) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, content=content, headers=self._headers())
        except httpx.HTTPError as exc:
            raise ClickUnavailable(f"Click Merchant API unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise ClickUnavailable(f"Click Merchant API answered HTTP {response.status_code}",
                                   status=response.status_code)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400 or not isinstance(data, dict):
            note = data.get("error_note") if isinstance(data, dict) else None
            raise ClickApiError(f"Click Merchant API answered HTTP {response.status_code}"
                                + (f": {note}" if note else ""), status=response.status_code,
                                error_code=data.get("error_code") if isinstance(data, dict) else None)
        code = data.get("error_code", 0)
        if code != 0:
            raise ClickApiError(f"Click refused: {data.get('error_note') or code}", error_code=code,
                                status=response.status_code)
        return data

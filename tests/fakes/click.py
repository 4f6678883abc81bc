"""A fake of Click's Merchant API (``https://api.click.uz/v2/merchant/``), written from the spec.

It follows ``/work/shared/specs/payments.md`` §2.3, not the plugin's code:

* every request must carry ``Auth: merchant_user_id:digest:timestamp`` where ``timestamp`` is
  10-digit Unix seconds and ``digest = sha1(timestamp + secret_key)`` in hex; anything else is
  HTTP 401 (as Click's transport-level errors are);
* replies are JSON with ``error_code`` (0 = OK) and ``error_note``;
* ``GET payment/status/:service_id/:payment_id``,
  ``GET payment/status_by_mti/:service_id/:merchant_trans_id/YYYY-MM-DD``,
  ``DELETE payment/reversal/:service_id/:payment_id``, ``POST invoice/create``
  (``{service_id, amount, phone_number, merchant_trans_id}`` → ``invoice_id``) and
  ``GET invoice/status/:service_id/:invoice_id``.

Tests register payments Click "has taken" with :meth:`FakeClick.add_payment`, read what was
asked in :attr:`FakeClick.requests`, and make the next calls fail with :attr:`FakeClick.fail_next`
(a list of HTTP statuses). Serve it with ``serve_fake(fake.app)``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

#: How far the Auth timestamp may be from the fake's clock (seconds).
AUTH_WINDOW_SECONDS = 300


@dataclass
class FakePayment:
    payment_id: int
    merchant_trans_id: str
    amount: Decimal
    day: str
    status: int = 2  # 2 = successful (CLICK Pass codes: <0 error, 0 created, 1 processing, 2 successful)
    reversed: bool = False


@dataclass
class FakeClick:
    service_id: int
    merchant_user_id: int
    secret_key: str
    payments: dict[int, FakePayment] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    #: HTTP statuses the next requests answer with (consumed one per request).
    fail_next: list[int] = field(default_factory=list)
    auth_failures: int = 0

    def add_payment(self, payment_id: int, merchant_trans_id: str, amount: str, day: str = "2026-12-02") -> None:
        self.payments[payment_id] = FakePayment(payment_id, merchant_trans_id, Decimal(amount), day)

    # ------------------------------------------------------------------ auth
    def auth_ok(self, header: str | None) -> bool:
        match = re.fullmatch(r"(\d+):([0-9a-f]{40}):(\d{10})", header or "")
        if not match:
            return False
        user, digest, timestamp = match.groups()
        expected = hashlib.sha1((timestamp + self.secret_key).encode()).hexdigest()
        return (int(user) == self.merchant_user_id and digest == expected
                and abs(int(timestamp) - time.time()) <= AUTH_WINDOW_SECONDS)

    # ------------------------------------------------------------------ app
    @property
    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v2/merchant/payment/status/{service_id:int}/{payment_id:int}", self.payment_status,
                  methods=["GET"]),
            Route("/v2/merchant/payment/status_by_mti/{service_id:int}/{mti}/{day}", self.status_by_mti,
                  methods=["GET"]),
            Route("/v2/merchant/payment/reversal/{service_id:int}/{payment_id:int}", self.reversal,
                  methods=["DELETE"]),
            Route("/v2/merchant/invoice/create", self.create_invoice, methods=["POST"]),
            Route("/v2/merchant/invoice/status/{service_id:int}/{invoice_id:int}", self.invoice_status,
                  methods=["GET"]),
        ])

    def _gate(self, request: Request) -> JSONResponse | None:
        self.requests.append((request.method, request.url.path))
        if self.fail_next:
            return JSONResponse({"error_code": -500, "error_note": "unavailable"}, status_code=self.fail_next.pop(0))
        if not self.auth_ok(request.headers.get("auth")):
            self.auth_failures += 1
            return JSONResponse({"error_code": -401, "error_note": "Authorization failed"}, status_code=401)
        if request.path_params.get("service_id", self.service_id) != self.service_id:
            return JSONResponse({"error_code": -3, "error_note": "Service not found"}, status_code=200)
        return None

    @staticmethod
    def _error(code: int, note: str) -> JSONResponse:
        return JSONResponse({"error_code": code, "error_note": note})

    async def payment_status(self, request: Request) -> JSONResponse:
        if (denied := self._gate(request)) is not None:
            return denied
        payment = self.payments.get(request.path_params["payment_id"])
        if payment is None:
            return self._error(-16, "Payment not found")
        return JSONResponse({"error_code": 0, "error_note": "Success", "payment_id": payment.payment_id,
                             "payment_status": -2 if payment.reversed else payment.status})

    async def status_by_mti(self, request: Request) -> JSONResponse:
        if (denied := self._gate(request)) is not None:
            return denied
        mti, day = request.path_params["mti"], request.path_params["day"]
        for payment in self.payments.values():
            if payment.merchant_trans_id == mti and payment.day == day:
                return JSONResponse({"error_code": 0, "error_note": "Success", "payment_id": payment.payment_id,
                                     "merchant_trans_id": mti})
        return self._error(-16, "Payment not found")

    async def reversal(self, request: Request) -> JSONResponse:
        if (denied := self._gate(request)) is not None:
            return denied
        payment = self.payments.get(request.path_params["payment_id"])
        if payment is None:
            return self._error(-16, "Payment not found")
        if payment.reversed:
            return self._error(-17, "Payment already reversed")
        payment.reversed = True
        return JSONResponse({"error_code": 0, "error_note": "Success", "payment_id": payment.payment_id})

    async def create_invoice(self, request: Request) -> JSONResponse:
        if (denied := self._gate(request)) is not None:
            return denied
        if "application/json" not in request.headers.get("content-type", ""):
            return JSONResponse({"error_code": -8, "error_note": "JSON expected"}, status_code=406)
        try:
            body = json.loads(await request.body(), parse_float=Decimal)
        except ValueError:
            return JSONResponse({"error_code": -8, "error_note": "bad JSON"}, status_code=400)
        wanted = {"service_id", "amount", "phone_number", "merchant_trans_id"}
        if not isinstance(body, dict) or not wanted <= body.keys() or body["service_id"] != self.service_id \
                or not isinstance(body["amount"], int | Decimal) or body["amount"] <= 0 \
                or not re.fullmatch(r"998\d{9}", str(body["phone_number"])):
            return self._error(-8, "Error in request")
        invoice_id = 5000 + len(self.invoices) + 1
        self.invoices[invoice_id] = {**body, "amount": Decimal(body["amount"]), "status": 0}
        return JSONResponse({"error_code": 0, "error_note": "Success", "invoice_id": invoice_id})

    async def invoice_status(self, request: Request) -> JSONResponse:
        if (denied := self._gate(request)) is not None:
            return denied
        invoice = self.invoices.get(request.path_params["invoice_id"])
        if invoice is None:
            return self._error(-16, "Invoice not found")
        return JSONResponse({"error_code": 0, "error_note": "Success", "invoice_status": invoice["status"],
                             "invoice_status_note": "pending" if invoice["status"] == 0 else "paid"})

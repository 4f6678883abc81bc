"""A fake Eskiz SMS gateway (notify.eskiz.uz/api) speaking HTTP, written to the published protocol.

Follows ``shared/specs/integrations.md`` §1, not the plugin: form-data login returning a
30-day JWT (``exp`` claim), ``PATCH /auth/refresh`` with the current bearer token, **401** for
an expired or unknown token, form-data ``/message/sms/send`` answering
``{id, message: "Waiting for SMS provider", status: "waiting"}``, JSON ``send-batch`` whose
``status`` is an **array**, a **400** with a moderation message for a text that is not approved
(on a test account only the three fixed test texts are), ``status_by_id``, ``/user/get-limit``,
and delivery reports POSTed (JSON, all values strings) to each message's ``callback_url``.

Use it with the test kit's ``serve_fake``: ``url = serve_fake(fake.app)``, base URL ``url + "/api"``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TEST_TEXTS = ("Это тест от Eskiz", "Bu Eskiz dan test", "This is test from Eskiz")
TOKEN_LIFETIME = 30 * 24 * 3600


def make_jwt(exp: float, role: str = "user") -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"exp": int(exp), "iat": int(time.time()), "role": role, "sign": uuid.uuid4().hex, "sub": "1"}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{uuid.uuid4().hex}"


@dataclass
class SentSms:
    request_id: str
    phone: str
    text: str
    sender: str
    user_sms_id: str | None
    callback_url: str | None
    status: str = "waiting"
    eskiz_id: int = 0
    created_at: float = field(default_factory=time.time)


@dataclass
class FakeEskiz:
    """State of the fake account. ``approved`` are the moderated templates (``{x}`` = any text)."""

    email: str = "shop@example.uz"
    password: str = "api-secret"
    test_account: bool = False
    approved: list[str] = field(default_factory=list)
    balance: int = 100_000
    token_lifetime: float = TOKEN_LIFETIME
    #: Refuse ``PATCH /auth/refresh`` (forces a new login).
    refuse_refresh: bool = False
    #: Seconds each send waits before answering (to widen races in tests).
    send_delay: float = 0.0
    messages: list[SentSms] = field(default_factory=list)
    logins: int = 0
    refreshes: int = 0
    tokens: dict[str, float] = field(default_factory=dict)
    _fail: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ test controls
    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (calls with it get 401)."""
        with self._lock:
            self.tokens = {token: 0.0 for token in self.tokens}

    def fail_next_sends(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._fail.extend([status] * count)

    def sent_to(self, phone_digits: str) -> list[SentSms]:
        with self._lock:
            return [m for m in self.messages if m.phone == phone_digits]

    def user_sms_id_counts(self) -> Counter[str]:
        with self._lock:
            return Counter(m.user_sms_id or "" for m in self.messages)

    def report(self, message: SentSms, status: str = "DELIVRD") -> httpx.Response:
        """POST the delivery report of ``message`` to its callback URL, as Eskiz does."""
        assert message.callback_url, "the message was sent without a callback_url"
        message.status = status
        return httpx.post(message.callback_url, json={
            "request_id": message.request_id, "message_id": str(message.eskiz_id),
            "user_sms_id": message.user_sms_id or "", "country": "UZ", "phone_number": message.phone,
            "sms_count": "1", "status": status, "status_date": time.strftime("%Y-%m-%d %H:%M:%S")}, timeout=10)

    # ------------------------------------------------------------------ protocol
    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        with self._lock:
            exp = self.tokens.get(token)
        return exp is not None and exp > time.time()

    def _issue(self) -> str:
        token = make_jwt(time.time() + self.token_lifetime, "test" if self.test_account else "user")
        self.tokens[token] = time.time() + self.token_lifetime
        return token

    def _text_allowed(self, text: str) -> bool:
        if self.test_account:
            return text in TEST_TEXTS
        for template in self.approved:
            pattern = "^" + re.sub(r"\\\{\w+\\\}", ".+", re.escape(template)) + "$"
            if re.match(pattern, text, flags=re.S):
                return True
        return not self.approved  # no moderated list configured: every text is approved

    async def login(self, request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("email") != self.email or form.get("password") != self.password:
            return JSONResponse({"message": "Неверный Email или пароль"}, status_code=401)
        with self._lock:
            self.logins += 1
            token = self._issue()
        return JSONResponse({"message": "token_generated", "data": {"token": token}, "token_type": "bearer"})

    async def refresh(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        with self._lock:
            if self.refuse_refresh or token not in self.tokens:
                return JSONResponse({"status": "token-invalid", "message": "Expired token"}, status_code=401)
            self.refreshes += 1
            del self.tokens[token]
            new = self._issue()
        return JSONResponse({"message": "token_generated", "data": {"token": new}, "token_type": "bearer"})

    async def user(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return _expired()
        return JSONResponse({"status": "success", "data": {"id": 1, "email": self.email, "balance": self.balance,
                                                           "role": "test" if self.test_account else "user"}, "id": None})

    async def send(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return _expired()
        form = await request.form()
        if self.send_delay:
            import asyncio

            await asyncio.sleep(self.send_delay)
        with self._lock:
            if self._fail:
                return JSONResponse({"message": "Server Error"}, status_code=self._fail.pop(0))
        phone, text = str(form.get("mobile_phone", "")), str(form.get("message", ""))
        error = self._refusal(phone, text)
        if error:
            return JSONResponse({"message": error, "status": "error"}, status_code=400)
        request_id = str(uuid.uuid4())
        with self._lock:
            self.balance -= 50
            self.messages.append(SentSms(request_id, phone, text, str(form.get("from", "")),
                                         str(form.get("user_sms_id") or "") or None,
                                         str(form.get("callback_url") or "") or None, eskiz_id=len(self.messages) + 1))
        return JSONResponse({"id": request_id, "message": "Waiting for SMS provider", "status": "waiting"})

    async def send_batch(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return _expired()
        body = await request.json()
        items = body.get("messages") or []
        for item in items:
            error = self._refusal(str(item.get("to", "")), str(item.get("text", "")))
            if error:
                return JSONResponse({"message": error, "status": "error"}, status_code=400)
        request_id = str(uuid.uuid4())
        with self._lock:
            for item in items:
                self.balance -= 50
                self.messages.append(SentSms(request_id, str(item["to"]), str(item["text"]), str(body.get("from", "")),
                                             str(item.get("user_sms_id") or "") or None,
                                             body.get("callback_url") or None, eskiz_id=len(self.messages) + 1))
        return JSONResponse({"id": request_id, "message": "Waiting for SMS provider",
                             "status": ["waiting"] * len(items)})

    async def status_by_id(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return _expired()
        ident = request.path_params["ident"]
        with self._lock:
            found = [m for m in self.messages if m.request_id == ident or str(m.eskiz_id) == ident]
        if not found:
            return JSONResponse({"status": "error", "message": "Not found"}, status_code=404)
        m = found[0]
        return JSONResponse({"status": "success", "data": {
            "id": m.eskiz_id, "request_id": m.request_id, "user_sms_id": m.user_sms_id, "to": m.phone,
            "message": m.text, "status": m.status.upper(), "parts_count": 1, "price": 50, "total_price": 50}})

    async def user_messages(self, request: Request) -> JSONResponse:
        """``POST /message/sms/get-user-messages``: the account's messages in a date range, paged."""
        if not self._authorized(request):
            return _expired()
        form = await request.form()
        try:
            start = _tashkent_epoch(str(form["start_date"]))
            end = _tashkent_epoch(str(form.get("to_date") or form.get("end_date")))
            size = min(200, max(20, int(str(form.get("page_size") or 20))))
            page = max(1, int(request.query_params.get("page", "1")))
        except (KeyError, ValueError):
            return JSONResponse({"status": "error", "message": "The given data was invalid."}, status_code=422)
        with self._lock:
            rows = [m for m in self.messages if start <= m.created_at <= end + 60]
        chunk = rows[(page - 1) * size: page * size]
        next_url = str(request.url.include_query_params(page=page + 1)) if page * size < len(rows) else None
        return JSONResponse({"status": "success", "data": {
            "current_page": page, "per_page": size, "total": len(rows), "next_page_url": next_url, "links": [],
            "result": [{"id": m.eskiz_id, "user_sms_id": m.user_sms_id, "request_id": m.request_id, "to": m.phone,
                        "message": m.text, "status": m.status.upper()} for m in chunk]}})

    async def get_limit(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return _expired()
        return JSONResponse({"data": {"balance": self.balance}, "status": "success"})

    def _refusal(self, phone: str, text: str) -> str | None:
        if not re.fullmatch(r"998\d{9}", phone):
            return "Неверный номер телефона"
        if not text:
            return "Сообщение пустое"
        if not self._text_allowed(text):
            return "Этот смс текст ещё не прошёл модерацию (moderation)"
        if self.balance <= 0:
            return "Недостаточно средств на балансе"
        return None

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/api/auth/login", self.login, methods=["POST"]),
            Route("/api/auth/refresh", self.refresh, methods=["PATCH"]),
            Route("/api/auth/user", self.user, methods=["GET"]),
            Route("/api/message/sms/send", self.send, methods=["POST"]),
            Route("/api/message/sms/send-batch", self.send_batch, methods=["POST"]),
            Route("/api/message/sms/status_by_id/{ident}", self.status_by_id, methods=["GET"]),
            Route("/api/message/sms/get-user-messages", self.user_messages, methods=["POST"]),
            Route("/api/user/get-limit", self.get_limit, methods=["GET"]),
        ])


def _tashkent_epoch(value: str) -> float:
    """``%Y-%m-%d %H:%M`` in Tashkent time (UTC+5) -> epoch seconds."""
    from datetime import datetime, timedelta, timezone

    return datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=timezone(timedelta(hours=5))).timestamp()


def _expired() -> JSONResponse:
    return JSONResponse({"status": "token-invalid", "message": "Expired token"}, status_code=401)

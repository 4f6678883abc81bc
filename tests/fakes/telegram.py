"""A fake Telegram Bot API server, written to the published Bot API (core.telegram.org/bots/api).

* ``POST|GET /bot<token>/<method>``; parameters in the query string, a form or a JSON body.
* Every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
  "description": "..."}`` (plus ``"parameters": {"retry_after": s}`` or
  ``{"migrate_to_chat_id": id}`` where the API gives them); a wrong token is 401
  ``Unauthorized``, an unknown method 404 ``Not Found``.
* ``getMe``, ``getChat`` (``chat_id``), ``sendMessage`` (``chat_id``, ``text`` of 1–4096
  characters; an unknown chat is 400 ``Bad Request: chat not found``).

Failures are injected with :meth:`FakeTelegram.fail_next` (e.g. a 429 with ``retry_after``),
and a group chat can be upgraded to a supergroup (:meth:`FakeTelegram.upgrade_chat`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "123456789:AAHfakeTokenForTests_abcdefghijkl"
STAFF_CHAT = "-1001234567890"


@dataclass
class Sent:
    chat_id: str
    text: str
    params: dict[str, Any]
    message_id: int


@dataclass
class FakeTelegram:
    token: str = TOKEN
    chats: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        STAFF_CHAT: {"id": int(STAFF_CHAT), "type": "supergroup", "title": "Shop staff"}})
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    url: str = ""
    _failures: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    _migrated: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ test controls
    def fail_next(self, status: int, description: str, *, times: int = 1, **parameters: Any) -> None:
        """The next ``times`` method calls answer ``status`` with ``description`` (and ``parameters``)."""
        self._failures.extend([(status, description, parameters)] * times)

    def upgrade_chat(self, chat_id: str, new_id: int) -> None:
        """The group ``chat_id`` became supergroup ``new_id``: posting to the old id is refused."""
        self._migrated[chat_id] = new_id

    def messages_to(self, chat_id: str) -> list[str]:
        return [m.text for m in self.sent if m.chat_id == chat_id]

    # ------------------------------------------------------------------ protocol
    @staticmethod
    def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        headers = {}
        if parameters:
            body["parameters"] = parameters
            if "retry_after" in parameters:
                headers["Retry-After"] = str(parameters["retry_after"])
        return JSONResponse(body, status_code=status, headers=headers)

    @staticmethod
    async def _params(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            kind = request.headers.get("content-type", "")
            raw = await request.body()
            if kind.startswith("application/json") and raw:
                body = json.loads(raw)
                if isinstance(body, dict):
                    params.update(body)
            elif kind.startswith("application/x-www-form-urlencoded"):
                params.update(dict(parse_qsl(raw.decode())))
        return params

    async def endpoint(self, request: Request) -> JSONResponse:
        token, method = request.path_params["token"], request.path_params["method"]
        if token != self.token:
            return self._error(401, "Unauthorized")
        self.calls.append(method)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            return self._error(failure[0], failure[1], failure[2] or None)
        params = await self._params(request)
        handler = {"getMe": self.get_me, "getChat": self.get_chat, "sendMessage": self.send_message}.get(method)
        if handler is None:
            return self._error(404, "Not Found")
        return handler(params)

    def get_me(self, params: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"ok": True, "result": {"id": int(self.token.split(":")[0]), "is_bot": True,
                                                    "first_name": "Shop bot", "username": "shop_staff_bot"}})

    def _chat(self, params: dict[str, Any]) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        chat_id = str(params.get("chat_id") or "")
        if not chat_id:
            return None, self._error(400, "Bad Request: chat_id is empty")
        if chat_id in self._migrated:
            return None, self._error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                                     {"migrate_to_chat_id": self._migrated[chat_id]})
        chat = self.chats.get(chat_id)
        if chat is None:
            return None, self._error(400, "Bad Request: chat not found")
        return chat, None

    def get_chat(self, params: dict[str, Any]) -> JSONResponse:
        chat, error = self._chat(params)
        return error or JSONResponse({"ok": True, "result": chat})

    def send_message(self, params: dict[str, Any]) -> JSONResponse:
        chat, error = self._chat(params)
        if error:
            return error
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        with self._lock:
            message_id = len(self.sent) + 1
            self.sent.append(Sent(str(params["chat_id"]), text, params, message_id))
        return JSONResponse({"ok": True, "result": {
            "message_id": message_id, "date": int(time.time()), "chat": chat, "text": text,
            "from": {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "Shop bot"}}})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self.endpoint, methods=["GET", "POST"])])


def serve_telegram(serve_fake: Any) -> FakeTelegram:
    """A fake Bot API served on loopback by the kit's ``serve_fake``; ``.url`` is its ``api_url``."""
    fake = FakeTelegram()
    fake.url = serve_fake(fake.app())
    return fake

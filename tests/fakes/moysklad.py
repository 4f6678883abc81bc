"""A fake of the MoySklad JSON API 1.2 — the part a stock sync uses — written to the spec.

Follows ``../shared/specs/integrations.md`` §2, not our client:

* **gzip is mandatory**: a request whose ``Accept-Encoding`` does not name gzip gets **415 with an
  empty body**; replies are gzip-compressed. An ``Accept`` other than JSON gets error 1062.
* Auth: ``Bearer <token>`` or ``Basic login:password``; ``POST /security/token`` (Basic) issues a
  token and **revokes every token issued before** to that user.
* **Rate limits** (when ``rate_limited``): a budget of 45 units per 3-second window per user; a
  request weighs 4 (user token / login, since 2026-12-01), ``/report/stock/all`` and ``/bystore``
  5. Over budget: **429**, error **1049**, headers ``X-RateLimit-Limit``,
  ``X-Lognex-Retry-TimeInterval``, ``X-RateLimit-Remaining``, ``X-Lognex-Reset``,
  ``X-Lognex-Retry-After`` (ms). More than 5 requests in parallel per user: 429, error **1073**,
  without those headers. ``force_429(ms)`` makes the next request a 1049 with that wait, and
  ``sent_while_told_to_wait`` lists requests that arrived before the wait was over.
* ``GET /report/stock/all``: ``limit`` 1–1000 (default 1000), ``offset``, ``meta.size`` and
  ``meta.nextHref`` while more rows follow; ``filter=quantityMode=all`` (default ``nonEmpty``
  omits rows with zero available); rows with ``meta.href`` ending ``?expand=supplier``, ``code``,
  ``article``, ``externalCode``, ``name``, ``stock``, ``reserve``, ``inTransit``, ``quantity``.
* ``GET /report/stock/all/current``: a bare JSON array of ``{"assortmentId", <stockType>}``;
  ``stockType`` stock | freeStock | quantity | reserve | inTransit; ``changedSince``
  (``YYYY-MM-DD HH:MM:SS`` Moscow time, at most 24 h back, not in the future) returns the current
  absolute values of the items changed since, zeros included; ``include=zeroLines``.
* ``GET/POST /entity/webhookstock``, ``PUT /entity/webhookstock/{id}``: (url, stockType,
  reportType) unique. ``notify(url)`` delivers a stock notification as MoySklad does:
  ``POST <url>&requestId=<uuid>`` with ``{accountId, stockType, reportType, reportUrl}``.
* ``GET /context/employee``. Errors use ``{"errors": [{"error", "code", ...}]}``.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx

MSK = timezone(timedelta(hours=3))
BUDGET, WINDOW_MS = 45, 3000
USER_WEIGHT, HEAVY_WEIGHT = 4, 5
MAX_PARALLEL = 5
HEAVY = ("/report/stock/all", "/report/stock/bystore")
API_PREFIX = "/api/remap/1.2"


@dataclass
class Product:
    id: str
    code: str
    article: str | None
    external_code: str
    name: str
    stock: float = 0.0
    reserve: float = 0.0
    in_transit: float = 0.0
    changed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def figure(self, kind: str) -> float:
        return {"stock": self.stock, "reserve": self.reserve, "inTransit": self.in_transit,
                "freeStock": self.stock - self.reserve,
                "quantity": self.stock - self.reserve + self.in_transit}[kind]


class FakeMoySklad:
    """The fake's state and its ASGI app (``serve_fake(fake)``; the API is under ``url + API_PREFIX``)."""

    def __init__(self, *, rate_limited: bool = True, login: str = "admin@shop", password: str = "secret",
                 token: str = "tok-initial", latency: float = 0.0) -> None:
        self.latency = latency
        self.products: list[Product] = []
        self.by_id: dict[str, Product] = {}
        self.rate_limited = rate_limited
        self.users = {login: password}
        self.tokens: dict[str, str] = {token: login}
        self.tokens_issued = 0
        self.webhooks: list[dict[str, Any]] = []
        self.log: list[tuple[float, str, str, str]] = []
        self.rejected_429: list[tuple[float, int]] = []
        self.sent_while_told_to_wait: list[tuple[float, str]] = []
        self.max_parallel_seen = 0
        self.fail_next: list[int] = []
        self._forced_wait_ms: int | None = None
        self._told_until: dict[str, float] = {}
        self._windows: dict[str, tuple[float, int]] = {}
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._held: dict[str, threading.Event] = {}
        self.account_id = str(uuid.uuid4())
        self.base = ""

    # ------------------------------------------------------------------ test helpers
    def add_products(self, count: int, *, stock: float = 5, start: int = 0, article: bool = True) -> list[Product]:
        made = []
        old = datetime.now(UTC) - timedelta(days=2)
        for n in range(start, start + count):
            p = Product(id=f"00000000-0000-4000-8000-{n:012d}", code=f"C{n:06d}",
                        article=f"A{n:06d}" if article else None, external_code=f"X{n:06d}",
                        name=f"Товар {n}", stock=stock, changed_at=old)
            self.products.append(p)
            self.by_id[p.id] = p
            made.append(p)
        return made

    def set_stock(self, product: Product, stock: float | None = None, reserve: float | None = None) -> None:
        if stock is not None:
            product.stock = stock
        if reserve is not None:
            product.reserve = reserve
        product.changed_at = datetime.now(UTC)

    def force_429(self, wait_ms: int) -> None:
        """The next request gets 429 (1049) telling the client to wait ``wait_ms``."""
        self._forced_wait_ms = wait_ms

    def hold(self, path: str) -> threading.Event:
        """Requests to ``path`` are logged, then wait until the returned event is set (``.set()`` releases)."""
        gate = self._held[path] = threading.Event()
        return gate

    def requests_to(self, path: str) -> int:
        return sum(1 for _, _, p, _ in self.log if p == path)

    def notify(self, url: str, *, request_id: str | None = None, stock_type: str = "stock",
               changed_since: datetime | None = None) -> httpx.Response:
        """Deliver a stock notification to ``url`` as MoySklad does (``?requestId=``, JSON body)."""
        since = (changed_since or datetime.now(UTC) - timedelta(minutes=5)).astimezone(MSK)
        report_url = (f"{self.base}{API_PREFIX}/report/stock/all/current?changedSince="
                      f"{since.strftime('%Y-%m-%d %H:%M:%S')}")
        body = {"accountId": self.account_id, "stockType": stock_type, "reportType": "all",
                "reportUrl": report_url}
        joiner = "&" if "?" in url else "?"
        return httpx.post(f"{url}{joiner}requestId={request_id or uuid.uuid4()}", json=body, timeout=5)

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        host = headers.get("host", "127.0.0.1")
        self.base = f"http://{host}"
        status, reply_headers, payload = await self.handle(scope["method"], scope["path"],
                                                           scope.get("query_string", b"").decode(), headers, body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in reply_headers.items()]})
        await send({"type": "http.response.body", "body": payload})

    async def handle(self, method: str, path: str, query: str, headers: dict[str, str],
                     body: bytes) -> tuple[int, dict[str, str], bytes]:
        now = time.time()
        encodings = [e.split(";")[0].strip().lower() for e in headers.get("accept-encoding", "").split(",")]
        if "gzip" not in encodings:
            return 415, {"content-length": "0"}, b""
        accept = headers.get("accept", "*/*")
        if not (accept.startswith("application/json") or accept.startswith("*/*")):
            return self._error(400, 1062, "Accept: only application/json;charset=utf-8")
        if not path.startswith(API_PREFIX):
            return self._error(404, 1002, "unknown path")
        path = path[len(API_PREFIX):]
        with self._lock:
            self.log.append((now, method, path, query))
            user = self._user(path, headers)
            if user is None:
                return self._error(401, 1056, "authentication failed", auth=True)
            told = self._told_until.get(user, 0.0)
            if now < told:
                self.sent_while_told_to_wait.append((now, path))
            limited = self._rate(user, path, now)
            if limited is not None:
                return limited
            self._in_flight[user] = self._in_flight.get(user, 0) + 1
            self.max_parallel_seen = max(self.max_parallel_seen, self._in_flight[user])
            over = self._in_flight[user] > MAX_PARALLEL
            fail = self.fail_next.pop(0) if self.fail_next else None
        try:
            gate = self._held.get(path)
            while gate is not None and not gate.is_set():
                await asyncio.sleep(0.01)
            if self.latency:
                await asyncio.sleep(self.latency)  # requests overlap as on a real server
            if over:
                return self._error(429, 1073, "too many parallel requests")
            if fail is not None:
                return self._error(fail, 1000 + fail, f"injected failure {fail}")
            return self._route(method, path, parse_qs(query), headers, body)
        finally:
            with self._lock:
                self._in_flight[user] -= 1

    # ------------------------------------------------------------------ limits and auth
    def _user(self, path: str, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return self.tokens.get(auth[7:])
        if auth.startswith("Basic "):
            try:
                login, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return None
            return login if self.users.get(login) == password else None
        return None

    def _rate(self, user: str, path: str, now: float) -> tuple[int, dict[str, str], bytes] | None:
        if self._forced_wait_ms is not None:
            wait, self._forced_wait_ms = self._forced_wait_ms, None
            return self._told(user, now, wait, used=BUDGET)
        if not self.rate_limited:
            return None
        weight = HEAVY_WEIGHT if path in HEAVY else USER_WEIGHT
        start, used = self._windows.get(user, (now, 0))
        if now - start >= WINDOW_MS / 1000:
            start, used = now, 0
        if used + weight > BUDGET:
            self._windows[user] = (start, used)
            wait = max(1, int((start + WINDOW_MS / 1000 - now) * 1000))
            return self._told(user, now, wait, used=used)
        self._windows[user] = (start, used + weight)
        return None

    def _told(self, user: str, now: float, wait_ms: int, *, used: int) -> tuple[int, dict[str, str], bytes]:
        self._told_until[user] = max(self._told_until.get(user, 0.0), now + wait_ms / 1000)
        self.rejected_429.append((now, wait_ms))
        status, headers, body = self._error(429, 1049, "Превышено ограничение на количество запросов в единицу времени")
        headers.update({"X-RateLimit-Limit": str(BUDGET), "X-Lognex-Retry-TimeInterval": str(WINDOW_MS),
                        "X-RateLimit-Remaining": str(max(0, BUDGET - used)), "X-Lognex-Reset": str(wait_ms),
                        "X-Lognex-Retry-After": str(wait_ms)})
        return status, headers, body

    # ------------------------------------------------------------------ replies
    def _json(self, status: int, data: Any) -> tuple[int, dict[str, str], bytes]:
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        packed = gzip.compress(raw, compresslevel=1)
        return status, {"content-type": "application/json;charset=utf-8", "content-encoding": "gzip",
                        "content-length": str(len(packed))}, packed

    def _error(self, status: int, code: int, text: str, *, auth: bool = False) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = self._json(status, {"errors": [{"error": text, "code": code,
                                                               "moreInfo": "https://dev.moysklad.ru/doc/"}]})
        if auth:
            headers["X-Lognex-Auth"] = "1056"
        return status, headers, body

    def _route(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "POST" and path == "/security/token":
            return self._issue_token(headers)
        if method == "GET" and path == "/report/stock/all":
            return self._stock_all(query)
        if method == "GET" and path == "/report/stock/all/current":
            return self._stock_current(query)
        if method == "GET" and path == "/context/employee":
            return self._json(200, {"id": str(uuid.uuid4()), "name": "Администратор", "uid": "admin@shop"})
        if path == "/entity/webhookstock" and method in ("GET", "POST"):
            return self._webhooks(method, body)
        if path.startswith("/entity/webhookstock/") and method == "PUT":
            return self._webhook_update(path.rsplit("/", 1)[-1], body)
        return self._error(404, 1002, f"unknown path {path}")

    def _issue_token(self, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if not headers.get("authorization", "").startswith("Basic "):
            return self._error(401, 1056, "Basic auth required", auth=True)
        login = self._user("", headers)
        with self._lock:
            for token in [t for t, u in self.tokens.items() if u == login]:
                del self.tokens[token]  # issuing a token revokes the previous ones
            token = secrets.token_hex(20)
            self.tokens[token] = login  # type: ignore[assignment]
            self.tokens_issued += 1
        return self._json(201, {"access_token": token})

    def _stock_all(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        try:
            limit = int(query.get("limit", ["1000"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return self._error(412, 1041, "limit/offset must be integers")
        if not 1 <= limit <= 1000 or offset < 0:
            return self._error(412, 1041, "limit must be 1..1000")
        filters = dict(part.split("=", 1) for f in query.get("filter", []) for part in f.split(";") if "=" in part)
        mode = filters.get("quantityMode", "nonEmpty")
        rows = self.products if mode == "all" else [p for p in self.products if p.figure("quantity") != 0]
        page = rows[offset:offset + limit]
        href = f"{self.base}{API_PREFIX}/report/stock/all"
        extra = "".join(f"&filter={f}" for f in query.get("filter", []))
        meta: dict[str, Any] = {"href": f"{href}?limit={limit}&offset={offset}{extra}", "type": "stock",
                                "mediaType": "application/json", "size": len(rows), "limit": limit, "offset": offset}
        if offset + limit < len(rows):
            meta["nextHref"] = f"{href}?limit={limit}&offset={offset + limit}{extra}"
        if offset > 0:
            meta["previousHref"] = f"{href}?limit={limit}&offset={max(0, offset - limit)}{extra}"
        out = []
        for p in page:
            row = {"meta": {"href": f"{self.base}{API_PREFIX}/entity/product/{p.id}?expand=supplier",
                            "type": "product", "mediaType": "application/json"},
                   "code": p.code, "externalCode": p.external_code, "name": p.name, "stock": p.stock,
                   "reserve": p.reserve, "inTransit": p.in_transit, "quantity": p.figure("quantity"),
                   "price": 1_000_000.0, "salePrice": 1_500_000.0, "stockDays": 3,
                   "uom": {"name": "шт"}}
            if p.article is not None:
                row["article"] = p.article
            out.append(row)
        return self._json(200, {"context": {"employee": {"meta": {"type": "employee"}}}, "meta": meta, "rows": out})

    def _stock_current(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        kind = query.get("stockType", ["stock"])[0]
        if kind not in ("stock", "freeStock", "quantity", "reserve", "inTransit"):
            return self._error(412, 1041, f"unknown stockType {kind}")
        rows = self.products
        since_text = query.get("changedSince", [None])[0]
        zeros = "zeroLines" in query.get("include", [])
        if since_text is not None:
            try:
                since = datetime.strptime(since_text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=MSK)
            except ValueError:
                return self._error(412, 1041, "changedSince: YYYY-MM-DD HH:MM:SS")
            now = datetime.now(UTC)
            if since > now + timedelta(seconds=1) or now - since > timedelta(hours=24):
                return self._error(412, 1041, "changedSince: at most 24 hours back and not in the future")
            rows, zeros = [p for p in rows if p.changed_at >= since], True
        out = [{"assortmentId": p.id, kind: p.figure(kind)} for p in rows if zeros or p.figure(kind) != 0]
        return self._json(200, out)

    def _webhooks(self, method: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "GET":
            return self._json(200, {"meta": {"size": len(self.webhooks), "limit": 1000, "offset": 0},
                                    "rows": self.webhooks})
        data = json.loads(body or b"{}")
        if not isinstance(data.get("url"), str) or len(data["url"]) > 255:
            return self._error(412, 3000, "url is required (≤255 chars)")
        key = (data.get("url"), data.get("stockType", "stock"), data.get("reportType", "all"))
        if any((w["url"], w["stockType"], w["reportType"]) == key for w in self.webhooks):
            return self._error(412, 3006, "webhook с данным набором параметров уже существует")
        hook = {"id": str(uuid.uuid4()), "accountId": self.account_id, "url": key[0], "stockType": key[1],
                "reportType": key[2], "enabled": data.get("enabled", True)}
        self.webhooks.append(hook)
        return self._json(200, hook)

    def _webhook_update(self, ident: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        for hook in self.webhooks:
            if hook["id"] == ident:
                hook.update({k: v for k, v in json.loads(body or b"{}").items() if k in ("enabled", "url")})
                return self._json(200, hook)
        return self._error(404, 1021, "not found")

"""A small, faithful fake of the Meilisearch HTTP API: the part Toolbox uses.

Implements: ``/health``, ``/version``, index creation and lookup, settings (get/patch),
documents (add or replace, get one, delete one, delete all), ``/indexes/{uid}/search`` with
``q`` (typo tolerance: 1 typo from 5 letters, 2 from 9; prefix on the last word; matching
strategy ``last``), ``filter`` (``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``IN [...]``,
``AND``/``OR``, or the array form), ``sort`` (only on sortable attributes), ``limit``,
``offset``, ``attributesToRetrieve``; and asynchronous tasks (``/tasks/{uid}``): every write
answers 202 with an enqueued task processed in order by a worker thread, failures recorded on
the task as Meilisearch does. Errors use Meilisearch's ``{message, code, type, link}`` shape.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

DEFAULT_SETTINGS: dict[str, Any] = {
    "displayedAttributes": ["*"],
    "searchableAttributes": ["*"],
    "filterableAttributes": [],
    "sortableAttributes": [],
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
    "stopWords": [],
    "synonyms": {},
    "distinctAttribute": None,
    "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9}},
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MeiliError(Exception):
    def __init__(self, status: int, code: str, message: str, type_: str = "invalid_request") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.type = status, code, message, type_

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code, "type": self.type, "link": f"https://docs.meilisearch.com/errors#{self.code}"}


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


_TOKEN = re.compile(r"\w+", re.UNICODE)


def _tokens(value: Any) -> list[str]:
    if isinstance(value, list):
        return [t for v in value for t in _tokens(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tokens(v)]
    if value is None:
        return []
    return _TOKEN.findall(str(value).lower())


class Index:
    def __init__(self, uid: str, primary_key: str | None) -> None:
        self.uid, self.primary_key = uid, primary_key
        self.created_at = self.updated_at = _now()
        self.settings: dict[str, Any] = json.loads(json.dumps(DEFAULT_SETTINGS))
        self.documents: dict[str, dict[str, Any]] = {}

    def info(self) -> dict[str, Any]:
        return {"uid": self.uid, "primaryKey": self.primary_key, "createdAt": self.created_at, "updatedAt": self.updated_at}

    # ------------------------------------------------------------------ search
    def _word_cost(self, word: str, tokens: list[str], is_last: bool) -> int | None:
        best = None
        typo = self.settings["typoTolerance"]
        sizes = typo.get("minWordSizeForTypos", {"oneTypo": 5, "twoTypos": 9})
        allowed = 0
        if typo.get("enabled", True):
            allowed = 2 if len(word) >= sizes["twoTypos"] else 1 if len(word) >= sizes["oneTypo"] else 0
        for token in tokens:
            if token == word or (is_last and token.startswith(word)):
                return 0
            if allowed:
                candidates = [token] + ([token[: len(word)]] if is_last and len(token) > len(word) else [])
                for cand in candidates:
                    d = _levenshtein(word, cand)
                    if d <= allowed and (best is None or d < best):
                        best = d
        return best

    def _searchable_tokens(self, doc: dict[str, Any]) -> list[str]:
        attrs = self.settings["searchableAttributes"]
        if attrs == ["*"]:
            return _tokens(doc)
        return [t for a in attrs for t in _tokens(doc.get(a))]

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        q = body.get("q") or ""
        limit, offset = int(body.get("limit", 20)), int(body.get("offset", 0))
        filtered = [d for d in self.documents.values() if self._passes(d, body.get("filter"))]
        words = _tokens(q)
        hits: list[tuple[int, int, dict[str, Any]]] = []
        while True:
            hits = []
            for pos, doc in enumerate(filtered):
                tokens = self._searchable_tokens(doc)
                cost = 0
                for i, word in enumerate(words):
                    c = self._word_cost(word, tokens, i == len(words) - 1)
                    if c is None:
                        break
                    cost += c
                else:
                    hits.append((cost, pos, doc))
            if hits or len(words) <= 1:
                break
            words = words[:-1]  # matchingStrategy "last"
        hits.sort(key=lambda h: (h[0], h[1]))
        docs = [h[2] for h in hits]
        for rule in reversed(body.get("sort") or []):
            attr, _, direction = rule.partition(":")
            if attr not in self.settings["sortableAttributes"]:
                raise MeiliError(400, "invalid_search_sort", f"Attribute `{attr}` is not sortable. Available sortable attributes are: `{', '.join(self.settings['sortableAttributes'])}`.")
            docs.sort(key=lambda d, a=attr: (d.get(a) is None, d.get(a)), reverse=direction == "desc")
        retrieve = body.get("attributesToRetrieve") or ["*"]
        page = docs[offset : offset + limit]
        if retrieve != ["*"]:
            page = [{k: v for k, v in d.items() if k in retrieve} for d in page]
        return {"hits": page, "query": q, "processingTimeMs": 0, "limit": limit, "offset": offset, "estimatedTotalHits": len(docs)}

    # ------------------------------------------------------------------ filters
    _COND = re.compile(r"^\s*([\w.]+)\s*(!=|>=|<=|=|>|<|IN|NOT IN)\s*(.+?)\s*$", re.IGNORECASE)

    def _passes(self, doc: dict[str, Any], flt: Any) -> bool:
        if flt is None or flt == "" or flt == []:
            return True
        if isinstance(flt, list):  # array form: outer AND, inner lists OR
            return all(any(self._expr(doc, f) for f in item) if isinstance(item, list) else self._expr(doc, item) for item in flt)
        return self._expr(doc, flt)

    def _expr(self, doc: dict[str, Any], expr: str) -> bool:
        return any(all(self._cond(doc, c) for c in re.split(r"\s+AND\s+", part)) for part in re.split(r"\s+OR\s+", expr))

    def _cond(self, doc: dict[str, Any], cond: str) -> bool:
        match = self._COND.match(cond)
        if not match:
            raise MeiliError(400, "invalid_search_filter", f"Was expecting an operation like `=`, `IN` in `{cond}`.")
        attr, op, raw = match.group(1), match.group(2).upper(), match.group(3)
        if attr not in self.settings["filterableAttributes"]:
            raise MeiliError(400, "invalid_search_filter", f"Attribute `{attr}` is not filterable. Available filterable attributes are: `{', '.join(self.settings['filterableAttributes'])}`.")
        value = doc.get(attr)
        values = value if isinstance(value, list) else [value]
        if op in ("IN", "NOT IN"):
            items = [_literal(x) for x in raw.strip().lstrip("[").rstrip("]").split(",") if x.strip()]
            found = any(_eq(v, i) for v in values for i in items)
            return found if op == "IN" else not found
        target = _literal(raw)
        if op == "=":
            return any(_eq(v, target) for v in values)
        if op == "!=":
            return not any(_eq(v, target) for v in values)
        nums = [v for v in values if isinstance(v, int | float)]
        t = float(target)
        return any({">": v > t, ">=": v >= t, "<": v < t, "<=": v <= t}[op] for v in nums)


def _literal(raw: str) -> Any:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError:
        return raw


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return str(a) == str(b)


class FakeMeilisearch:
    """Run with ``with FakeMeilisearch(api_key="k") as meili: meili.url``."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.indexes: dict[str, Index] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self._queue: queue.Queue[tuple[int, Any] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeMeilisearch:
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True), threading.Thread(target=self._work, daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ tasks
    def _enqueue(self, index_uid: str | None, type_: str, job: Any) -> dict[str, Any]:
        with self._lock:
            uid = len(self.tasks)
            task = {"uid": uid, "indexUid": index_uid, "status": "enqueued", "type": type_, "details": {}, "error": None,
                    "canceledBy": None, "duration": None, "enqueuedAt": _now(), "startedAt": None, "finishedAt": None}
            self.tasks[uid] = task
        self._queue.put((uid, job))
        return {"taskUid": uid, "indexUid": index_uid, "status": "enqueued", "type": type_, "enqueuedAt": task["enqueuedAt"]}

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            uid, job = item
            task = self.tasks[uid]
            task["status"], task["startedAt"] = "processing", _now()
            try:
                with self._lock:
                    task["details"] = job() or {}
                task["status"] = "succeeded"
            except MeiliError as exc:
                task["status"], task["error"] = "failed", exc.body()
            task["finishedAt"], task["duration"] = _now(), "PT0.001S"

    def _index(self, uid: str) -> Index:
        if uid not in self.indexes:
            raise MeiliError(404, "index_not_found", f"Index `{uid}` not found.")
        return self.indexes[uid]

    # ------------------------------------------------------------------ routes
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self.requests.append((method, path))
        parts = [p for p in path.split("/") if p]
        if parts == ["health"]:
            return 200, {"status": "available"}
        if parts == ["version"]:
            return 200, {"pkgVersion": "1.11.0", "commitSha": "fake", "commitDate": _now()}
        if parts[:1] == ["tasks"] and len(parts) == 2 and method == "GET":
            task = self.tasks.get(int(parts[1]))
            if task is None:
                raise MeiliError(404, "task_not_found", f"Task `{parts[1]}` not found.")
            return 200, dict(task)
        if parts == ["indexes"] and method == "POST":
            uid, pk = body.get("uid"), body.get("primaryKey")
            if not uid or not re.fullmatch(r"[A-Za-z0-9_-]{1,400}", uid):
                raise MeiliError(400, "invalid_index_uid", f"`{uid}` is not a valid index uid.")

            def create() -> dict[str, Any]:
                if uid in self.indexes:
                    raise MeiliError(409, "index_already_exists", f"Index `{uid}` already exists.")
                self.indexes[uid] = Index(uid, pk)
                return {"primaryKey": pk}

            return 202, self._enqueue(uid, "indexCreation", create)
        if parts[:1] == ["indexes"] and len(parts) >= 2:
            return self._index_route(method, parts[1], parts[2:], query, body)
        raise MeiliError(404, "not_found", "not found")

    def _index_route(self, method: str, uid: str, rest: list[str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if not rest and method == "GET":
            return 200, self._index(uid).info()
        if rest == ["settings"]:
            if method == "GET":
                return 200, self._index(uid).settings
            if method == "PATCH":
                unknown = set(body) - set(DEFAULT_SETTINGS)
                if unknown:
                    raise MeiliError(400, "bad_request", f"Unknown field `{sorted(unknown)[0]}`")

                def update() -> dict[str, Any]:
                    index = self.indexes.setdefault(uid, Index(uid, None))
                    for key, value in body.items():
                        if isinstance(value, dict) and isinstance(index.settings.get(key), dict):
                            index.settings[key].update(value)
                        else:
                            index.settings[key] = value
                    index.updated_at = _now()
                    return dict(body)

                return 202, self._enqueue(uid, "settingsUpdate", update)
        if rest == ["search"] and method == "POST":
            return 200, self._index(uid).search(body or {})
        if rest[:1] == ["documents"]:
            if len(rest) == 1 and method in ("POST", "PUT"):
                if not isinstance(body, list):
                    raise MeiliError(400, "malformed_payload", "The documents payload must be an array.")
                pk_param = (query.get("primaryKey") or [None])[0]

                def add() -> dict[str, Any]:
                    index = self.indexes.setdefault(uid, Index(uid, pk_param))
                    if index.primary_key is None:
                        index.primary_key = pk_param or "id"
                    pk = index.primary_key
                    for doc in body:
                        if pk not in doc:
                            raise MeiliError(400, "missing_document_id", f"Document doesn't have a `{pk}` attribute: `{json.dumps(doc)}`.")
                    for doc in body:
                        key = str(doc[pk])
                        index.documents[key] = {**index.documents.get(key, {}), **doc} if method == "PUT" else dict(doc)
                    index.updated_at = _now()
                    return {"receivedDocuments": len(body), "indexedDocuments": len(body)}

                return 202, self._enqueue(uid, "documentAdditionOrUpdate", add)
            if len(rest) == 1 and method == "DELETE":
                def clear() -> dict[str, Any]:
                    index = self._index(uid)
                    n = len(index.documents)
                    index.documents.clear()
                    return {"deletedDocuments": n}

                return 202, self._enqueue(uid, "documentDeletion", clear)
            if len(rest) == 2 and method == "GET":
                doc = self._index(uid).documents.get(rest[1])
                if doc is None:
                    raise MeiliError(404, "document_not_found", f"Document `{rest[1]}` not found.")
                return 200, doc
            if len(rest) == 2 and method == "DELETE":
                def remove() -> dict[str, Any]:
                    deleted = self._index(uid).documents.pop(rest[1], None)
                    return {"providedIds": 1, "deletedDocuments": int(deleted is not None)}

                return 202, self._enqueue(uid, "documentDeletion", remove)
        raise MeiliError(404, "not_found", "not found")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                url = urlparse(self.path)
                if fake.api_key is not None:
                    auth = self.headers.get("Authorization")
                    if not auth:
                        return self._send(401, MeiliError(401, "missing_authorization_header", "The Authorization header is missing.", "auth").body())
                    if auth != f"Bearer {fake.api_key}":
                        return self._send(403, MeiliError(403, "invalid_api_key", "The provided API key is invalid.", "auth").body())
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self._send(400, MeiliError(400, "malformed_payload", "The json payload provided is malformed.").body())
                try:
                    status, payload = fake.handle(self.command, url.path, parse_qs(url.query), body)
                except MeiliError as exc:
                    status, payload = exc.status, exc.body()
                self._send(status, payload)

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler

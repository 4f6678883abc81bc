"""Errors and the one JSON shape every API error has.

Every error response is::

    {"error": {"code": "out_of_stock", "message": "...", "details": {...}, "request_id": "..."}}

Services raise subclasses of :class:`ToolboxError`; the app turns them into responses. Anything
else that escapes a route becomes a 500 with code ``internal_error`` and no internals leaked.

The rule of ``details``: it is always a JSON **object or null**, never a list or a scalar.
Validation errors (422 ``invalid_input`` from a bad body, query or path) put their problems
under ``details.fields``: a list of ``{"loc": [...], "message": ..., "type": ...}``. A list a
service passes as ``details`` is answered as ``{"items": [...]}`` and any other value as
``{"value": ...}`` (:func:`details_object`). Every error body is built by :func:`error_body`,
which applies it (and :class:`ToolboxError` keeps its ``details`` that way), so no handler,
middleware or plugin route can emit another shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("toolbox.errors")


class ToolboxError(Exception):
    """A failure with a stable machine-readable ``code`` and an HTTP ``status``."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details_object(details)
        self.headers = headers or {}


class BadRequest(ToolboxError):
    status, code = 400, "bad_request"


class Unauthorized(ToolboxError):
    status, code = 401, "unauthorized"


class Forbidden(ToolboxError):
    status, code = 403, "forbidden"


class NotFound(ToolboxError):
    status, code = 404, "not_found"


class Conflict(ToolboxError):
    status, code = 409, "conflict"


class Gone(ToolboxError):
    status, code = 410, "gone"


class PayloadTooLarge(ToolboxError):
    status, code = 413, "payload_too_large"


class UnsupportedMedia(ToolboxError):
    status, code = 415, "unsupported_media_type"


class InvalidInput(ToolboxError):
    status, code = 422, "invalid_input"


class RateLimited(ToolboxError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = max(1, int(retry_after))
        self.headers["Retry-After"] = str(self.retry_after)
        self.details = {"retry_after": self.retry_after, **(self.details or {})}


class ServiceUnavailable(ToolboxError):
    status, code = 503, "service_unavailable"


def details_object(details: Any) -> dict[str, Any] | None:
    """``details`` under the module's rule: an object or null (a list becomes ``{"items": [...]}``)."""
    if details is None or isinstance(details, dict):
        return details
    if isinstance(details, list | tuple):
        return {"items": list(details)}
    return {"value": details}


def error_body(code: str, message: str, details: Any = None, *, request_id: str | None = None) -> dict[str, Any]:
    """The one builder of error bodies: ``{"error": {...}}`` with ``details`` under the module's rule."""
    return {"error": {"code": code, "message": message, "details": details_object(details),
                      "request_id": request_id}}


def error_response(status: int, code: str, message: str, details: Any = None, *,
                   request_id: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one serializer of error responses: handlers, the 500 fallback and the ASGI limits
    all answer through it (and so through :func:`error_body`), so every error body has the same
    shape and encoding."""
    return JSONResponse(error_body(code, message, details, request_id=request_id), status_code=status,
                        headers=headers)


def _answer(request: Request, status: int, code: str, message: str, details: Any = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    # The body's language for Content-Language: English unless localize_error translated it.
    if getattr(request.state, "message_locale", None) is None:
        request.state.message_locale = "en"
    return error_response(status, code, message, details, request_id=getattr(request.state, "request_id", None),
                          headers=headers)


_JSON_HINT = "send a JSON object with the header Content-Type: application/json"


def _body_problem(request: Request, err: dict[str, Any]) -> str | None:
    """A plain message for a body that is not JSON at all (malformed, or sent as another type)."""
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "json_invalid":
        where = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = (err.get("ctx") or {}).get("error", "")
        return f"the body is not valid JSON{where}{': ' + reason if reason else ''}; {_JSON_HINT}"
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if loc == ("body",) and err.get("type") in ("model_attributes_type", "dict_type") and content_type != "application/json":
        sent = f"Content-Type {content_type}" if content_type else "no Content-Type header"
        return f"the body was sent with {sent}; {_JSON_HINT}"
    return None


#: The one answer to a NUL in any text of a request (the body, see :mod:`toolbox_core.limits`,
#: and what PostgreSQL refuses).
NUL_MESSAGE = "text must not contain NUL (0x00) characters"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "service_unavailable",
}


def install_error_handlers(app: FastAPI) -> None:
    """Make every error leave the app in the one JSON shape.

    Errors no handler knows are answered by ``RequestMiddleware`` (``toolbox_core.app``),
    which logs them and returns a 500 ``internal_error`` with the request id.
    """

    from toolbox_core.i18n import localize_error  # i18n imports this module (its errors)

    @app.exception_handler(ToolboxError)
    async def _toolbox_error(request: Request, exc: ToolboxError) -> JSONResponse:
        message = localize_error(request, exc.code, exc.message, exc.details)
        return _answer(request, exc.status, exc.code, message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "message": "invalid"}
        where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path"))
        message = f"{where}: {first['message']}" if where else first["message"]
        problem = _body_problem(request, exc.errors()[0]) if exc.errors() else None
        if problem:
            return _answer(request, 422, "invalid_input", problem, {"fields": details[:1]})
        return _answer(request, 422, "invalid_input", message, {"fields": details})

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL text cannot hold NUL: psycopg refuses such a value before sending it, from
        # any path, query or body string, and PostgreSQL refuses a \u0000 inside a JSON value
        # (SQLSTATE 22P05, an address). That is the client's input, not our failure.
        if "NUL" not in str(exc.orig) and getattr(exc.orig, "sqlstate", None) != "22P05":
            raise exc
        return _answer(request, 422, "invalid_input", NUL_MESSAGE, None)

    @app.exception_handler(OperationalError)
    async def _lock_timeout(request: Request, exc: OperationalError) -> JSONResponse:
        # ``database_lock_timeout_ms`` ran out while a statement waited for a lock (SQLSTATE
        # 55P03): the rows are busy, the request may be retried; nothing was written.
        if getattr(exc.orig, "sqlstate", None) != "55P03":
            raise exc
        return _answer(request, 503, "database_busy", "the data is busy; retry in a moment", None,
                       headers={"retry-after": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        details = getattr(exc, "details", None)  # set by toolbox_core.limits.BodyTooLarge
        return _answer(request, exc.status_code, code, message, details, getattr(exc, "headers", None))

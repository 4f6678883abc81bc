"""Routers that answer errors in their own shape (gateway protocols), not the kernel's.

The kernel turns every error into ``{"error": {"code", "message", ...}}`` with a 4xx/5xx status.
Some callers dictate another shape: Payme wants HTTP 200 with a JSON-RPC ``error`` even for
malformed JSON, Click wants its flat ``{"error": -8, "error_note": ...}``. A plugin router opts
out with :func:`own_error_route`::

    def jsonrpc_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": {"code": -32700, ...}, "id": None}, status_code=200)

    router = APIRouter(route_class=own_error_route(jsonrpc_error))

Every exception raised while handling a request on that router — request validation (bad JSON,
missing fields), :class:`~toolbox_core.api.ToolboxError`, HTTP exceptions, and unexpected ones
(logged with the traceback) — goes to ``on_error``, whose response is sent as it is. Routing
errors before a route is chosen (404 for an unknown path, 405 for a method the route does not
declare) still get the kernel's shape: declare every method you want to answer yourself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from toolbox_core.asyncutil import aresolve

log = logging.getLogger("toolbox.routing")

ErrorHandler = Callable[[Request, Exception], Response | Awaitable[Response]]


def own_error_route(on_error: ErrorHandler) -> type[APIRoute]:
    """An ``APIRoute`` class whose routes hand every exception to ``on_error`` (see the module doc)."""

    class OwnErrorRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:
                    if not _expected(exc):
                        log.exception("unhandled error on %s %s", request.method, request.url.path)
                    return await aresolve(on_error(request, exc))

            return handle

    return OwnErrorRoute


def _expected(exc: Any) -> bool:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from toolbox_core.errors import ToolboxError

    return isinstance(exc, RequestValidationError | HTTPException | ToolboxError)

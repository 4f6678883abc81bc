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
declare) still get the kernel's shape: declare every method you want to answer yourself. A body
over ``http.max_body_bytes`` reaches ``on_error`` as a 413 ``HTTPException`` (bound the body you
read yourself lower, as ``read_body`` does).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import fastapi
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.datastructures import URL
from starlette.responses import RedirectResponse
from starlette.routing import Match, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from toolbox_core.asyncutil import aresolve

try:  # private steps of FastAPI's own router, which the index repeats (see _IndexedDispatch)
    from fastapi.routing import _apply_router_form_limits, _route_selected, _update_scope
except ImportError:  # pragma: no cover - another FastAPI: its own routing is used
    _apply_router_form_limits = _route_selected = _update_scope = None

#: FastAPI releases whose router steps :class:`_IndexedDispatch` repeats (checked by the tests
#: that compare the index with FastAPI's own scan); with any other, FastAPI routes by itself.
INDEXED_FASTAPI = ("0.165.",)

log = logging.getLogger("toolbox.routing")

ErrorHandler = Callable[[Request, Exception], Response | Awaitable[Response]]


def own_error_route(on_error: ErrorHandler) -> type[APIRoute]:
    """An ``APIRoute`` class whose routes hand every exception to ``on_error`` (see the module doc)."""

    class OwnErrorRoute(APIRoute):
        #: Read by the request middleware: a body over ``http.max_body_bytes`` is refused by
        #: this route (``on_error``), not in the kernel's shape.
        answers_errors_itself = True

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


# ------------------------------------------------------------------------------ route index
class _Node:
    """A node of :class:`RouteIndex`'s trie: one literal path segment."""

    __slots__ = ("candidates", "children", "routes")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.routes: list[int] = []  # positions of the routes whose literal prefix ends here
        self.candidates: tuple[Any, ...] = ()


def literal_prefix(route: Any) -> tuple[str, ...] | None:
    """The path segments a path must start with for ``route`` to match it (those before the
    first segment with a parameter), or ``None`` when that is not known (a host route, an
    included router): such a route is tried on every path."""
    if not isinstance(route, Route | Mount | WebSocketRoute):
        return None
    path = route.path
    if not path.startswith("/"):
        return None  # a root Mount ("") matches every path
    prefix: list[str] = []
    for segment in path.split("/")[1:]:
        if "{" in segment:
            break
        prefix.append(segment)
    return tuple(prefix)


class RouteIndex:
    """The app's routes by their literal leading path segments, so a request tries only the
    routes that can match its path, in their declared order, instead of every route.

    Starlette and FastAPI match a request by trying each route's regex in turn: with ~100
    kernel routes and the plugins' after them, a request to a plugin route (``/payme/callback``)
    paid ~100 ``matches`` calls and a 404 twice that (the ``redirect_slashes`` retry tries
    every route again). A route whose path begins ``/store/products/`` can only match a path
    that begins so, so the candidates of a path are the routes on its branch of a trie of
    literal segments: the same routes FastAPI would find, tried in the same order, with the
    same answers (first full match; else the first partial match, a 405; else the slash
    redirect; else 404).
    """

    def __init__(self, routes: list[Any]) -> None:
        root = _Node()
        wildcard: list[int] = []
        #: Every route is a plain route or mount (else FastAPI's own routing is used).
        self.plain = True
        for position, route in enumerate(routes):
            prefix = literal_prefix(route)
            if prefix is None:
                self.plain = False
                wildcard.append(position)
                continue
            node = root
            for segment in prefix:
                node = node.children.setdefault(segment, _Node())
            node.routes.append(position)

        def fill(node: _Node, above: list[int]) -> None:
            here = above + node.routes
            node.candidates = tuple(routes[i] for i in sorted(here))
            for child in node.children.values():
                fill(child, here)

        fill(root, wildcard)
        self.root = root

    def candidates(self, route_path: str) -> tuple[Any, ...]:
        """The routes that may match ``route_path``, in declared order."""
        node = self.root
        for segment in route_path.split("/")[1:]:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
        return node.candidates


def install_route_index(app: Any) -> None:
    """Route the app's HTTP requests through a :class:`RouteIndex` of its router's routes.

    The index is built on the first request and again whenever the route list changes
    (``add_api_route``, or a list that grew or shrank). A router with what the index does not
    model (an included router, a host route, FastAPI's low-priority frontend routes,
    router-level middleware) keeps FastAPI's own routing, as do websocket and lifespan scopes,
    and so does a FastAPI release other than :data:`INDEXED_FASTAPI` (its steps may differ).
    """
    if _update_scope is None or not fastapi.__version__.startswith(INDEXED_FASTAPI):
        log.info("route index off: written for FastAPI %s, running %s", INDEXED_FASTAPI, fastapi.__version__)
        return
    router = app.router
    if router.middleware_stack != router.app:
        return  # router-level middleware: leave the stack as FastAPI built it
    router.middleware_stack = _IndexedDispatch(router)


class _IndexedDispatch:
    """``APIRouter.app`` for HTTP requests, with the candidates from a :class:`RouteIndex`
    (FastAPI 0.165's steps: form limits, ``scope["router"]``, full match, partial match,
    slash redirect, 404)."""

    def __init__(self, router: Any) -> None:
        self.router = router
        self.fallback = router.app
        self.index: RouteIndex | None = None
        self.key: tuple[int, int, int] | None = None

    def _index(self) -> RouteIndex | None:
        router = self.router
        if getattr(router, "_low_priority_routes", None):
            return None
        routes = router.routes
        key = (id(routes), len(routes), getattr(router, "_routes_version", 0))
        if key != self.key:
            self.index, self.key = RouteIndex(routes), key
        return self.index if self.index.plain else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        index = self._index() if scope["type"] == "http" else None
        if index is None:
            await self.fallback(scope, receive, send)
            return
        router = self.router
        _apply_router_form_limits(scope, router.form_limits)
        if "router" not in scope:
            scope["router"] = router
        route_path = get_route_path(scope)
        # the first full match, else the first partial one (a 405), as FastAPI's loop picks
        chosen: tuple[Any, Scope] | None = None
        for route in index.candidates(route_path):
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                chosen = (route, child_scope)
                break
            if match == Match.PARTIAL and chosen is None:
                chosen = (route, child_scope)
        if chosen is not None:
            route, child_scope = chosen
            _update_scope(scope, child_scope)
            _route_selected(scope=scope, path=getattr(route, "path_format", None), mount=isinstance(route, Mount))
            await route.handle(scope, receive, send)
            return
        if router.redirect_slashes and route_path != "/":
            redirect_scope = dict(scope)
            redirect_scope["path"] = (scope["path"].rstrip("/") if route_path.endswith("/")
                                      else scope["path"] + "/")
            redirect_path = get_route_path(redirect_scope)
            for route in index.candidates(redirect_path):
                match, _ = route.matches(redirect_scope)
                if match != Match.NONE:
                    _route_selected(scope=scope, path=getattr(route, "path_format", None))
                    await RedirectResponse(url=str(URL(scope=redirect_scope)))(scope, receive, send)
                    return
        await router.default(scope, receive, send)

"""The FastAPI application: store API under ``/store``, admin API under ``/admin``, plugin routes.

``create_app(settings)`` is the one entry point; ``toolbox serve`` and the tests both use it.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from random import getrandbits
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolbox_core import __version__
from toolbox_core.apidocs import install_api_docs, install_error_shape
from toolbox_core.clientip import install_proxy_headers
from toolbox_core.config import Settings, load_settings
from toolbox_core.errors import error_response, install_error_handlers
from toolbox_core.i18n import add_locale_headers
from toolbox_core.kernel import Toolbox, request_threads
from toolbox_core.limits import body_limit, declared_length_problem, limited_receive, nul_pattern
from toolbox_core.params import unbounded_integer_params
from toolbox_core.plugins import PluginError
from toolbox_core.query_once import repeated_problem, scalar_query_names
from toolbox_core.routing import install_route_index
from toolbox_core.urls import reset_request_scope, set_request_scope

log = logging.getLogger("toolbox.app")


class RequestMiddleware:
    """The kernel's one ASGI layer per request (each layer is a coroutine frame, a ``send``
    wrapper and a scope check on every request, so they are folded into one):

    * a request id (``X-Request-ID`` in, or a new one) on ``scope["state"]`` and echoed in the
      response; an error no handler answered is logged and answered 500 ``internal_error`` in the
      one error shape, without the exception's text;
    * the request's scope made current for absolute URLs (:func:`toolbox_core.urls.set_request_scope`);
    * a NUL in the path or query answered 422 at once;
    * body limits (:mod:`toolbox_core.limits`): a bad or too large ``Content-Length`` answered
      at once, a streamed body counted;
    * ``Content-Language`` / ``Vary`` once the locale was resolved (:func:`toolbox_core.i18n.add_locale_headers`).
    """

    def __init__(self, app: ASGIApp, settings: Settings, own_shape_paths: set[str] | None = None) -> None:
        self.app = app
        self.settings = settings
        #: Paths of routes that answer every error in their protocol's shape (``own_error_route``):
        #: a too large body is refused by their route (a streamed body passing the limit raises
        #: there), not here in the kernel's shape.
        self.own_shape_paths = own_shape_paths if own_shape_paths is not None else set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = content_type = declared = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                request_id = request_id or value.decode("latin-1")[:64]
            elif key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"content-length":
                declared = value
        # 128 random bits as 32 hex digits, as uuid4().hex was, without its os.urandom system
        # call per request: an id names a request in the logs, it is no secret.
        request_id = request_id or f"{getrandbits(128):032x}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        raw_id = request_id.encode("latin-1")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = add_locale_headers(state, list(message.get("headers", [])))
                headers.append((b"x-request-id", raw_id))
                message["headers"] = headers
            await send(message)

        token = set_request_scope(scope)
        try:
            if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
                # No route takes a NUL (PostgreSQL text cannot even hold one): refused alike on
                # every database, before any route runs.
                refused = error_response(422, "invalid_input", "the URL must not contain NUL (%00)",
                                         request_id=request_id)
                await refused(scope, receive, send_with_headers)
                return
            limit = body_limit(self.settings, content_type or "")
            problem = declared_length_problem(limit, declared, request_id)
            if problem is not None and scope["path"] not in self.own_shape_paths:
                await problem(scope, receive, send_with_headers)
                return
            nul = None if scope["path"] in self.own_shape_paths else nul_pattern(content_type or "")
            await self.app(scope, limited_receive(receive, limit, nul), send_with_headers)
        except Exception:
            # Anything no handler turned into a response: log it, answer in the one error
            # shape, and never leak the exception text to the client.
            log.exception("unhandled error on %s %s (request %s)", scope.get("method"), scope.get("path"), request_id)
            if started:
                raise
            response = error_response(500, "internal_error", "internal server error", request_id=request_id,
                                      headers={"X-Request-ID": request_id})
            await response(scope, receive, send)
        finally:
            reset_request_scope(token)



def create_app(settings: Settings | None = None, *, toolbox: Toolbox | None = None) -> FastAPI:
    """Build the app for ``settings`` (or an already created ``toolbox``).

    Called with neither (the factory uvicorn's worker processes use), it loads the settings
    and refuses those unsafe outside the embedded mode, as ``toolbox serve`` does.
    """
    served = toolbox is None and settings is None
    if served:
        settings = load_settings()
        settings.check_safe_to_serve()
    toolbox = toolbox or Toolbox.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        # As many request threads as pooled connections (see kernel.request_threads).
        anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads(toolbox.settings)
        await toolbox.plugins.acall_each("startup", toolbox=toolbox)
        if served:
            freeze_startup_objects()
        try:
            yield
        finally:
            await toolbox.plugins.acall_each("shutdown", toolbox=toolbox)

    app = FastAPI(
        title="Toolbox Commerce",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc with local assets: install_api_docs below
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.toolbox = toolbox
    install_api_docs(app)
    install_error_shape(app)
    install_error_handlers(app)
    install_route_index(app)
    own_shape_paths: set[str] = set()  # filled once the plugins' routes are in, below
    app.add_middleware(RequestMiddleware, settings=toolbox.settings, own_shape_paths=own_shape_paths)
    if toolbox.settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=toolbox.settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    # Outermost: every layer and route sees the client behind trusted proxies (rate limits).
    install_proxy_headers(app, toolbox.settings.http.trusted_proxies)

    health = _health_router(toolbox)
    add_routes(app, health)
    _include_plugin_routes(app, toolbox, kernel_routers=[health])
    own_shape_paths.update(route.path for route in app.routes if getattr(route, "answers_errors_itself", False))
    for param in unbounded_integer_params(app):
        log.warning("unbounded integer parameter %s: use toolbox_core.api.QueryInt, Limit or Offset "
                    "(past 64 bits it fails in SQL as a 500)", param)
    return app


def freeze_startup_objects() -> None:
    """Exclude everything alive after start-up (modules, models, routes: ~120k objects) from
    the cyclic garbage collector.

    A full collection walks every tracked object with the GIL held: ~85 ms of CPU per
    collection over the start-up heap (far more wall time on a busy machine), during which
    every request thread of the process stalls. These were the product detail's second-long
    p99 outliers with an 11 ms median. Frozen objects are still freed by reference counting;
    only the served process (the ``create_app()`` factory) does this, never tests building
    many apps in one interpreter.
    """
    gc.collect()
    gc.freeze()


def _health_router(toolbox: Toolbox) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", summary="The process is alive")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready", summary="Database and, when configured, Redis are reachable; is a worker consuming?")
    def ready() -> JSONResponse:
        """503 when the database or Redis is unreachable. With Redis, ``worker`` says ``ok`` or
        ``missing`` (no worker heartbeat): reported, not failed, since this process can still serve."""
        checks = readiness_checks(toolbox)
        ok = all(c["ok"] for c in checks.values() if c.get("required", True))
        body: dict[str, Any] = {"status": "ready" if ok else "not_ready", "checks": checks}
        if "worker" in checks:
            body["worker"] = checks["worker"]["status"]
        return JSONResponse(body, status_code=200 if ok else 503)

    return router


def readiness_checks(toolbox: Toolbox) -> dict[str, dict[str, Any]]:
    """Ping each configured backing service; used by ``/ready`` and ``toolbox doctor``.

    A check with ``"required": False`` (the Redis worker heartbeat) is reported, never failed on.
    """
    checks: dict[str, dict[str, Any]] = {}
    try:
        toolbox.db.ping()
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    if toolbox.settings.redis_url:
        # The key store's client: its pool is reused, so a probe every few seconds costs one PING.
        try:
            toolbox.keystore.ping()
            checks["redis"] = {"ok": True}
        except Exception as exc:
            checks["redis"] = {"ok": False, "error": type(exc).__name__}
        from toolbox_core.jobs.heartbeat import worker_status

        worker = worker_status(toolbox)
        worker.pop("last_beat", None)  # host and pid are for `toolbox doctor`, not a public endpoint
        checks["worker"] = {"ok": worker["status"] == "ok", "required": False, **worker}
    return checks


def _include_plugin_routes(app: FastAPI, toolbox: Toolbox, kernel_routers: list[APIRouter]) -> None:
    """Mount every plugin's routers, refusing two plugins that claim the same method and path."""
    owners: dict[tuple[str, str], str] = {}
    for kernel_router in kernel_routers:
        for route in kernel_router.routes:
            for method in getattr(route, "methods", None) or ():
                owners[(method, route.path)] = "toolbox-core"
    for plugin_name, routers in toolbox.plugins.call_each("register_routes", toolbox=toolbox):
        for router in routers:
            for route in router.routes:
                for method in getattr(route, "methods", None) or ():
                    key = (method, route.path)
                    if key in owners and owners[key] != plugin_name:
                        raise PluginError(
                            plugin_name,
                            f"route {method} {route.path} is already registered by {owners[key]!r}",
                            "disable one of the two plugins",
                        )
                    owners[key] = plugin_name
            add_routes(app, router)


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put ``router``'s routes on the app itself, as ``@app.get`` does, instead of
    ``app.include_router(router)``.

    FastAPI 0.165 keeps an included router as one wrapper route that re-derives its routes'
    effective context on every request (a version walk over the router, a scope key set and
    restored per candidate, the match done twice): a request to a route in the last of ~15
    included routers paid ~100 Python calls, a 404 ~500, before any route code. A router's
    routes already carry its prefix, dependencies, tags and route class; what an inclusion adds
    besides is ``app.dependency_overrides`` (FastAPI's test hook), so each route goes on the app
    as a copy bound to the app's overrides (the plugin's router, maybe shared by several apps in
    one process, is left as it was). A router with its own start-up/shutdown handlers, lifespan
    or body size limit is still included the ordinary way.
    """
    plain_lifespan = type(APIRouter().lifespan_context)
    if (router.on_startup or router.on_shutdown or getattr(router, "max_body_size", None) is not None
            or not isinstance(router.lifespan_context, plain_lifespan)):
        app.include_router(router)
        return
    app.router.routes.extend(_bound_to(app, route) for route in router.routes)


def _bound_to(app: FastAPI, route: Any) -> Any:
    """``route``, or a copy of it whose handler reads ``app.dependency_overrides``.

    The handler is built when the route is made, with the router's overrides provider (none for
    a plugin's own ``APIRouter()``); the copy's is rebuilt as ``APIRoute.__init__`` builds it.
    ``test_app_dependency_overrides_reach_plugin_routes`` fails first if FastAPI changes that.
    """
    import copy

    from fastapi import routing

    if not isinstance(route, routing.APIRoute) or route.dependency_overrides_provider is not None:
        return route
    bound = copy.copy(route)
    bound.dependency_overrides_provider = app
    bound.app = _route_app(bound)
    return bound


def _route_app(route: Any) -> ASGIApp:
    """The ASGI app of an ``APIRoute``, as ``APIRoute.__init__`` builds it; for a route that
    depends on :data:`~toolbox_core.i18n.REQUEST_READ_DEPENDENCIES` (the locale), two handlers.

    Those dependencies read their query and header parameters from the request themselves;
    FastAPI solving them anyway (a sub-dependant's query, header, path and cookie lists, each
    value looked up, type-checked and validated) cost ~0.05 ms a request. So when a request's
    values pass the declared validation (the dependency's check says so from the raw scope),
    the handler built from a copy of the route's dependant without those parameters answers;
    otherwise the route's own handler does, and FastAPI validates and answers its 422 as
    declared. Either way a single-valued query parameter given twice is a 422 first
    (:mod:`toolbox_core.query_once`). ``route.dependant`` itself is untouched: OpenAPI still lists the parameters, and
    ``app.dependency_overrides`` still finds the dependency (the call is the same).
    """
    import copy

    from fastapi import routing

    def build(source: Any) -> ASGIApp:
        return routing.wrap_app_with_body_limit(routing.request_response(source.get_route_handler()),
                                                source.max_body_size)

    full = build(route)
    checks: list[Any] = []
    light_dependant = _without_read_params(route.dependant, checks)
    inner = full
    if checks:
        light_route = copy.copy(route)
        light_route.dependant = light_dependant
        light = build(light_route)
        check = checks[0] if len(set(checks)) == 1 else (lambda scope: all(c(scope) for c in checks))

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            await (light if check(scope) else full)(scope, receive, send)

    scalar = scalar_query_names(route.dependant)
    if not scalar:
        return inner

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        problem = repeated_problem(scope.get("query_string", b""), scalar)
        if problem is not None:
            raise problem
        await inner(scope, receive, send)

    return app


def _without_read_params(dependant: Any, checks: list[Any]) -> Any:
    """``dependant``, or a copy whose sub-dependants on a request-reading dependency have no
    query or header parameters (their checks appended to ``checks``)."""
    import dataclasses

    from toolbox_core.i18n import REQUEST_READ_DEPENDENCIES

    check = REQUEST_READ_DEPENDENCIES.get(dependant.call)
    subs = [_without_read_params(sub, checks) for sub in dependant.dependencies]
    changed = any(new is not old for new, old in zip(subs, dependant.dependencies, strict=True))
    if check is not None and (dependant.query_params or dependant.header_params):
        checks.append(check)
        return dataclasses.replace(dependant, query_params=[], header_params=[], dependencies=subs)
    return dataclasses.replace(dependant, dependencies=subs) if changed else dependant

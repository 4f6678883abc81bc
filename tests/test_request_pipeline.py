"""The per-request pipeline: one kernel ASGI layer (request id, request scope for absolute URLs,
body limits, locale headers) and plugin routes put on the app itself, not behind inclusions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, Route

from toolbox_core.app import RequestMiddleware, add_routes, create_app
from toolbox_core.doctor import public_base_url_check
from toolbox_core.i18n import add_locale_headers, merge_vary, request_locale
from toolbox_core.urls import public_base_url


def test_merge_vary_lists_each_value_once_and_keeps_the_others():
    assert merge_vary([], "Accept-Language") == "Accept-Language"
    assert merge_vary(["Origin"], "Accept-Language") == "Origin, Accept-Language"
    assert merge_vary(["accept-language", "Origin"], "Accept-Language") == "accept-language, Origin"
    assert merge_vary(["Origin", "origin", "Cookie"], "Accept-Language") == "Origin, Cookie, Accept-Language"
    assert merge_vary(["*"], "Accept-Language") == "*"


def test_locale_headers_merge_every_vary_header_into_one():
    from toolbox_core.i18n import RequestLocale

    state = {"locale": RequestLocale(None, "uz", "ru", ("ru", "uz"))}
    headers = add_locale_headers(state, [(b"vary", b"Origin, accept-language"), (b"Vary", b"Cookie"),
                                         (b"content-type", b"application/json")])
    assert [v for k, v in headers if k.lower() == b"vary"] == [b"Origin, accept-language, Cookie"]
    assert (b"content-language", b"uz") in headers
    assert add_locale_headers({}, [(b"vary", b"Origin")]) == [(b"vary", b"Origin")]  # no locale: untouched


def localized_app(toolbox) -> TestClient:
    app = create_app(toolbox=toolbox)
    router = APIRouter()

    @router.get("/store/test/varied")
    def varied(locale: str = Depends(request_locale)) -> Response:
        return Response(b"{}", media_type="application/json", headers={"Vary": "Accept-Language, Origin"})

    @router.get("/store/test/base")
    def base(request: Request) -> dict[str, str | None]:
        return {"base": public_base_url(request.app.state.toolbox.settings)}

    app.include_router(router)
    return TestClient(app)


def test_a_routes_own_vary_is_kept_once(toolbox):
    response = localized_app(toolbox).get("/store/test/varied", headers={"Accept-Language": "uz"})
    assert response.headers.get_list("vary") == ["Accept-Language, Origin"]
    assert response.headers["content-language"] == "uz"
    assert response.headers["x-request-id"]


def test_the_request_scope_is_current_for_absolute_urls_and_the_id_echoed(toolbox):
    response = localized_app(toolbox).get("/store/test/base", headers={"X-Request-ID": "abc-1"})
    assert response.json() == {"base": "http://testserver"}
    assert response.headers["x-request-id"] == "abc-1"
    assert public_base_url(toolbox.settings) is None  # outside a request: nothing current


def test_a_413_from_the_body_limit_carries_the_request_id(toolbox):
    client = TestClient(create_app(toolbox=toolbox))
    limit = toolbox.settings.http.max_body_bytes
    response = client.post("/store/carts", content=b"x" * (limit + 1), headers={"X-Request-ID": "big-1"})
    assert response.status_code == 413
    assert response.headers["x-request-id"] == "big-1"
    assert response.json()["error"]["request_id"] == "big-1"
    assert response.json()["error"]["code"] == "payload_too_large"


def test_the_kernel_adds_one_middleware_layer(toolbox):
    app = create_app(toolbox=toolbox)
    ours = [m for m in app.user_middleware if m.cls.__module__.startswith("toolbox_core")]
    assert [m.cls for m in ours] == [RequestMiddleware]


def test_plugin_routes_are_the_apps_own_routes(toolbox):
    """FastAPI serves routes on ``app.router.routes`` directly (as ``@app.get`` puts them);
    the kernel relies on it to skip the per-request cost of an inclusion (``add_routes``).
    Should a FastAPI upgrade stop serving them so, this fails first."""
    app = create_app(toolbox=toolbox)
    top = app.router.routes
    assert all(type(r) in (APIRoute, Route, Mount) or isinstance(r, APIRoute) for r in top), \
        {type(r).__name__ for r in top}
    served = {(r.path, method) for r in top for method in getattr(r, "methods", None) or ()}
    for _, routers in toolbox.plugins.call_each("register_routes", toolbox=toolbox):
        for router in routers:
            for route in router.routes:
                for method in route.methods:
                    assert (route.path, method) in served, (method, route.path)
    client = TestClient(app)
    assert client.get("/store/categories").status_code == 200
    assert client.delete("/store/categories").status_code == 405
    assert client.delete("/store/categories").json()["error"]["code"] == "method_not_allowed"
    assert "/store/categories" in client.get("/openapi.json").json()["paths"]


def test_app_dependency_overrides_reach_plugin_routes():
    """FastAPI's test hook works on routes a plugin registers, as it would through
    ``include_router``, and only on the app whose overrides were set."""
    router = APIRouter()

    def who() -> str:
        return "real"

    @router.get("/who")
    def whoami(name: str = Depends(who)) -> dict[str, str]:
        return {"name": name}

    overridden, plain = FastAPI(), FastAPI()
    add_routes(overridden, router)
    add_routes(plain, router)
    overridden.dependency_overrides[who] = lambda: "override"
    assert TestClient(overridden).get("/who").json() == {"name": "override"}
    assert TestClient(plain).get("/who").json() == {"name": "real"}
    assert router.routes[0].dependency_overrides_provider is None  # the plugin's router is untouched


def test_a_router_with_its_own_startup_is_still_included():
    app = FastAPI()
    started: list[bool] = []
    router = APIRouter(on_startup=[lambda: started.append(True)])

    @router.get("/x")
    def x() -> dict[str, int]:
        return {"x": 1}

    add_routes(app, router)
    assert not any(r is router.routes[0] for r in app.router.routes)  # behind an inclusion
    with TestClient(app) as client:
        assert client.get("/x").json() == {"x": 1}
    assert started  # its handler ran (as FastAPI runs an included router's)


def test_a_plain_router_is_flattened():
    app = FastAPI()
    router = APIRouter(prefix="/p", tags=["t"])

    @router.get("/y")
    def y() -> dict[str, int]:
        return {"y": 1}

    add_routes(app, router)
    assert router.routes[0] in app.router.routes
    assert isinstance(router.routes[0], BaseRoute)
    assert TestClient(app).get("/p/y").json() == {"y": 1}


def test_doctor_fails_a_missing_public_base_url_outside_the_embedded_mode(clean_env):
    from toolbox_core.config import load_settings

    assert public_base_url_check(load_settings()).ok  # embedded: the request's address is fine
    production = load_settings(database_url="postgresql://shop@127.0.0.1:1/shop")
    check = public_base_url_check(production)
    assert not check.ok and "TOOLBOX_PUBLIC_BASE_URL" in check.message
    assert public_base_url_check(load_settings(database_url="postgresql://shop@127.0.0.1:1/shop", debug=True)).ok
    assert public_base_url_check(load_settings(database_url="postgresql://shop@127.0.0.1:1/shop",
                                               public_base_url="https://api.shop.uz")).ok


# ------------------------------------------------------------------------------ route index
def _linear(routes, scope):
    """What FastAPI's own loop picks: the first full match, else the first partial one."""
    from starlette.routing import Match

    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route, match
        if match == Match.PARTIAL and partial is None:
            partial = (route, match)
    return partial


def _sample_paths(routes) -> set[str]:
    paths = {"/", "", "//", "/store", "/store/", "/admin", "/nope", "/store/no-such-path", "/store//products",
             "/media/a/b/c.png", "/docs", "/docs/", "/openapi.json/"}
    for route in routes:
        concrete = getattr(route, "path_format", "/").replace("{path}", "a/b")
        for name in getattr(route, "param_convertors", {}):
            concrete = concrete.replace("{" + name + "}", "x1")
        paths |= {concrete, concrete + "/", concrete.rstrip("/") or "/", concrete + "/extra", concrete.upper()}
    return paths


def test_the_route_index_picks_what_fastapi_picks(toolbox):
    """Every route's path (and neighbours: a trailing slash, one segment more, other case), in
    every method: the index's candidates give the same full or partial match as trying every
    route, and the same route for the slash redirect (any match)."""
    from starlette.routing import Match

    from toolbox_core.routing import RouteIndex

    routes = create_app(toolbox=toolbox).router.routes
    index = RouteIndex(routes)
    assert index.plain
    for path in _sample_paths(routes):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            scope = {"type": "http", "path": path, "root_path": "", "method": method}
            assert _linear(index.candidates(path), scope) == _linear(routes, scope), (method, path)
            first = next((r for r in routes if r.matches(scope)[0] != Match.NONE), None)
            candidate = next((r for r in index.candidates(path) if r.matches(scope)[0] != Match.NONE), None)
            assert candidate is first, (method, path)


def test_indexed_routing_answers_as_fastapi_does(toolbox):
    """The same requests through the index and through FastAPI's own loop (the index removed):
    status, redirect location and error code agree (200, 404, 405, 307 slash redirects)."""
    indexed = create_app(toolbox=toolbox)
    linear = create_app(toolbox=toolbox)
    linear.router.middleware_stack = linear.router.app
    assert indexed.router.middleware_stack != indexed.router.app
    requests = [("GET", "/health"), ("GET", "/health/"), ("GET", "/store/categories"), ("GET", "/store/categories/"),
                ("DELETE", "/store/categories"), ("GET", "/store/no-such-path"), ("GET", "/store/products/nope"),
                ("POST", "/store/products/nope"), ("GET", "/nope"), ("GET", "/"), ("GET", "/openapi.json")]
    for client_a, client_b in [(TestClient(indexed), TestClient(linear))]:
        for method, path in requests:
            a = client_a.request(method, path, follow_redirects=False)
            b = client_b.request(method, path, follow_redirects=False)
            assert (a.status_code, a.headers.get("location"), a.headers.get("allow")) == \
                (b.status_code, b.headers.get("location"), b.headers.get("allow")), (method, path)
            if a.status_code >= 400:
                assert a.json()["error"]["code"] == b.json()["error"]["code"]


def test_routes_added_after_the_first_request_are_routed(toolbox):
    app = create_app(toolbox=toolbox)
    client = TestClient(app)
    assert client.get("/late").status_code == 404

    @app.get("/late")
    def late() -> dict[str, bool]:
        return {"late": True}

    assert client.get("/late").json() == {"late": True}
    add_routes(app, _router_with("/later"))
    assert client.get("/later").json() == {"late": True}


def _router_with(path: str) -> APIRouter:
    router = APIRouter()
    router.add_api_route(path, lambda: {"late": True}, methods=["GET"])
    return router


def test_another_fastapi_release_keeps_fastapis_own_routing(toolbox, monkeypatch):
    """The index repeats private steps of one FastAPI release: with another, FastAPI routes."""
    import fastapi

    monkeypatch.setattr(fastapi, "__version__", "0.999.0")
    app = create_app(toolbox=toolbox)
    assert app.router.middleware_stack == app.router.app
    client = TestClient(app)
    assert client.get("/health").status_code == 200
    assert client.get("/store/no-such-path").json()["error"]["code"] == "not_found"

"""The application shell: health, readiness, one JSON error shape, request ids, docs."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from toolbox_core.app import create_app
from toolbox_core.config import Settings
from toolbox_core.errors import Conflict, RateLimited
from toolbox_core.kernel import Toolbox


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    return body["error"]


class Body(BaseModel):
    quantity: int


def app_with_routes(toolbox: Toolbox) -> TestClient:
    app = create_app(toolbox=toolbox)
    router = APIRouter()

    @router.post("/test/validate")
    def validate(body: Body) -> dict:
        return {"quantity": body.quantity}

    @router.get("/test/conflict")
    def conflict() -> None:
        raise Conflict("SKU DRL-18 already exists", code="duplicate_sku", details={"sku": "DRL-18"})

    @router.get("/test/limited")
    def limited() -> None:
        raise RateLimited("slow down", retry_after=42)

    @router.get("/test/crash")
    def crash() -> None:
        raise RuntimeError("database password is hunter2")

    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def test_ready_reports_each_service(client) -> None:
    body = client.get("/ready").json()
    assert body == {"status": "ready", "checks": {"database": {"ok": True}}}


def test_ready_is_503_when_redis_is_configured_but_down(settings: Settings) -> None:
    toolbox = Toolbox.create(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    with TestClient(create_app(toolbox=toolbox)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


def test_ready_is_503_when_the_database_is_unreachable(clean_env) -> None:
    toolbox = Toolbox.create(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    client = TestClient(create_app(toolbox=toolbox))
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False
    assert client.get("/health").status_code == 200


def test_request_id_is_echoed_or_generated(client) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert len(client.get("/health").headers["x-request-id"]) == 32


def test_unknown_route_is_a_404_in_the_error_shape(client) -> None:
    response = client.get("/store/nothing-here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_a_405_in_the_error_shape(client) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_invalid_body_is_a_422_naming_the_field(toolbox) -> None:
    client = app_with_routes(toolbox)
    response = client.post("/test/validate", json={"quantity": "many"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_input"
    assert error["message"].startswith("quantity:")
    assert error["details"]["fields"][0]["loc"] == ["body", "quantity"]


def test_malformed_json_is_a_422_not_a_500(toolbox) -> None:
    client = app_with_routes(toolbox)
    response = client.post("/test/validate", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_input"


def test_domain_errors_keep_their_code_and_details(toolbox) -> None:
    client = app_with_routes(toolbox)
    response = client.get("/test/conflict")
    assert response.status_code == 409
    assert error_of(response) | {"request_id": None} == {
        "code": "duplicate_sku",
        "message": "SKU DRL-18 already exists",
        "details": {"sku": "DRL-18"},
        "request_id": None,
    }


def test_rate_limit_errors_carry_retry_after(toolbox) -> None:
    client = app_with_routes(toolbox)
    response = client.get("/test/limited")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "42"
    assert error_of(response)["details"] == {"retry_after": 42}


def test_unexpected_errors_are_500_without_internals(toolbox) -> None:
    client = app_with_routes(toolbox)
    response = client.get("/test/crash")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "hunter2" not in response.text


def test_openapi_docs_are_served(client) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/health" in spec["paths"]


def test_admin_plugins_needs_an_admin_key(client, toolbox) -> None:
    from toolbox_core.admin.auth import create_key

    assert error_of(client.get("/admin/plugins"))["code"] == "unauthorized"
    _, weak = create_key(toolbox, "catalog bot", ["catalog:read"])
    forbidden = client.get("/admin/plugins", headers={"Authorization": f"Bearer {weak}"})
    assert forbidden.status_code == 403
    _, ops = create_key(toolbox, "ops", ["plugins:read"])
    response = client.get("/admin/plugins", headers={"Authorization": f"Bearer {ops}"})
    assert response.status_code == 200
    names = {p["name"]: p for p in response.json()["plugins"]}
    assert names["payme"]["enabled"] is False
    assert names["payme"]["distribution"] == "toolbox-payme"


SERVED_PROCESS = """
import gc, anyio.to_thread
from fastapi.testclient import TestClient
from toolbox_core.app import create_app
from toolbox_core.kernel import Toolbox

Toolbox.create().migrate()
with TestClient(create_app()) as client:  # the uvicorn factory path, lifespan run
    assert client.get("/health").status_code == 200
    limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)
    print(limiter.total_tokens, gc.get_freeze_count())
"""


def test_served_process_sizes_request_threads_to_the_pool_and_freezes_startup_objects(tmp_path, clean_env) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    env.update(TOOLBOX_DATABASE_URL=f"sqlite:///{tmp_path / 'shop.db'}", TOOLBOX_DATABASE_POOL_SIZE="7")
    out = subprocess.run([sys.executable, "-c", SERVED_PROCESS], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    threads, frozen = map(int, out.stdout.split())
    assert threads == 7                     # as many request threads as pooled connections
    assert frozen > 10_000                  # start-up objects out of the cyclic GC's walks


def test_postgres_pool_holds_one_connection_per_request_thread(pg_url, clean_env) -> None:
    default = Toolbox.create(Settings(database_url=pg_url, plugins=[]))
    sized = Toolbox.create(Settings(database_url=pg_url, plugins=[], database_pool_size=7))
    try:
        assert default.db.engine.pool.size() == 20
        assert sized.db.engine.pool.size() == 7
    finally:
        default.close()
        sized.close()

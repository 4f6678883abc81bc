"""Bounded input: body limits before parsing or authentication, integer bounds, one error serializer."""

from __future__ import annotations

import io
import json

import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.testclient import TestClient
from PIL import Image

from tests.test_app import app_with_routes, error_of
from toolbox_core.admin.auth import create_key
from toolbox_core.api import read_body
from toolbox_core.app import create_app
from toolbox_core.params import INT64_MAX, MAX_PAGE_SIZE, Limit, QueryInt, unbounded_integer_params

HUGE = str(2**70)


@pytest.fixture
def small(settings, toolbox):
    """The toolbox with a 4 KB body limit (uploads keep their own, larger limit)."""
    toolbox.settings.http.max_body_bytes = 4096
    return toolbox


def compact(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_body_announced_too_large_is_413_before_parsing(small):
    client = TestClient(create_app(toolbox=small))
    body = b'{"phone": "' + b"9" * 10_000 + b'"}'
    response = client.post("/store/otp/request", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large" and error["details"] == {"max_bytes": 4096}


@pytest.mark.parametrize("length", ["abc", "-1", "9" * 19])
def test_a_content_length_that_is_not_a_number_is_400(small, length):
    client = TestClient(create_app(toolbox=small))
    response = client.post("/store/otp/request", content=b"{}",
                           headers={"content-type": "application/json", "content-length": length})
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_the_admin_api_without_a_key_answers_413_not_401_for_a_huge_body(small):
    client = TestClient(create_app(toolbox=small))
    metadata = {"blob": "x" * 50_000}
    response = client.post("/admin/products", json={"handle": "a", "metadata": metadata})
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(small):
    _, plain = create_key(small, "t", ["catalog:write"])
    client = TestClient(create_app(toolbox=small))
    def chunks():
        for _ in range(100):
            yield b" " * 1024

    response = client.post("/admin/products", content=chunks(),
                           headers={"content-type": "application/json", "Authorization": f"Bearer {plain}"})
    assert response.status_code == 413, response.text
    assert error_of(response) | {"request_id": None} == {
        "code": "payload_too_large", "message": "the request body is larger than 4096 bytes; send less "
        "(uploads: one image per request)", "details": {"max_bytes": 4096}, "request_id": None}


def png(size: int) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((size, size), 60).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def test_image_uploads_get_the_upload_limit_not_the_json_one(small):
    from tests.catalog.conftest import product_body

    _, plain = create_key(small, "t", ["catalog:write"])
    headers = {"Authorization": f"Bearer {plain}"}
    client = TestClient(create_app(toolbox=small))
    assert client.post("/admin/products", json=product_body(), headers=headers).status_code == 201
    image = png(100)
    assert len(image) > 4096
    ok = client.post("/admin/products/drill-x18/images", files={"file": ("a.png", image, "image/png")}, headers=headers)
    assert ok.status_code == 201, ok.text
    small.settings.storage.max_upload_bytes = 1000
    big = client.post("/admin/products/drill-x18/images", files={"file": ("a.png", png(400), "image/png")},
                      headers=headers)
    assert big.status_code == 413


@pytest.mark.parametrize("path", [
    f"/store/products?price_min={HUGE}", f"/store/products?price_max={HUGE}", f"/store/products?offset={HUGE}",
    f"/admin/products?offset={HUGE}", f"/admin/orders?offset={HUGE}", f"/admin/customers?offset={HUGE}",
    f"/admin/orders?limit={MAX_PAGE_SIZE + 1}", f"/store/products?limit={MAX_PAGE_SIZE + 1}",
])
def test_integers_past_the_bound_are_422_not_500(toolbox, path):
    _, plain = create_key(toolbox, "t", ["*"])
    client = TestClient(create_app(toolbox=toolbox), raise_server_exceptions=False)
    response = client.get(path, headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "invalid_input"


def test_every_kernel_route_bounds_its_integer_parameters(toolbox):
    assert unbounded_integer_params(create_app(toolbox=toolbox)) == []


def test_an_unbounded_integer_parameter_is_found():
    app = FastAPI()
    router = APIRouter()

    @router.get("/bad")
    def bad(n: int = Query(0, ge=0), fine: QueryInt = 0, page: Limit = 10) -> None: ...

    app.include_router(router)
    assert unbounded_integer_params(app) == ["GET /bad: n"]
    assert INT64_MAX == 9223372036854775807


def test_500_and_4xx_bodies_come_from_one_serializer(toolbox):
    client = app_with_routes(toolbox)
    for path, status in (("/test/crash", 500), ("/test/conflict", 409), ("/nowhere", 404)):
        response = client.get(path)
        assert response.status_code == status
        assert response.content == compact(response.json()), path
        assert response.headers["content-type"] == "application/json"
    assert "hunter2" not in client.get("/test/crash").text


def test_malformed_json_says_what_is_wrong_and_what_to_send(toolbox):
    client = app_with_routes(toolbox)
    response = client.post("/test/validate", content=b'{"quantity": 1,,}', headers={"content-type": "application/json"})
    assert response.status_code == 422
    message = error_of(response)["message"]
    assert "not valid JSON at character 15" in message and "Content-Type: application/json" in message
    assert "49:" not in message


def test_a_body_without_content_type_is_told_to_send_json(toolbox):
    client = app_with_routes(toolbox)
    response = client.post("/test/validate", content=b'{"quantity": 1}')
    assert response.status_code == 422
    message = error_of(response)["message"]
    assert "no Content-Type header" in message and "application/json" in message
    assert "valid dictionary" not in message
    as_text = client.post("/test/validate", content=b'{"quantity": 1}', headers={"content-type": "text/plain"})
    assert "Content-Type text/plain" in error_of(as_text)["message"]


def test_a_route_reads_its_body_up_to_its_own_smaller_limit_announced_or_streamed(toolbox):
    """``read_body`` (public for webhook routes): 413 in the one shape, the body is never read whole."""
    app = create_app(toolbox=toolbox)
    router = APIRouter()

    @router.post("/test/hook")
    async def hook(request: Request) -> dict:
        body = await read_body(request, 100)
        form = await request.form() if request.headers.get("content-type", "").startswith("application/x-www") \
            else {}
        return {"size": len(body), "form": dict(form)}

    app.include_router(router)
    client = TestClient(app)
    exact = client.post("/test/hook", content=b"x" * 100)
    assert exact.json()["size"] == 100, exact.text
    assert client.post("/test/hook", data={"a": "1"}).json()["form"] == {"a": "1"}, "the body is still readable"
    announced = client.post("/test/hook", content=b"x" * 101)
    assert announced.status_code == 413 and announced.json()["error"]["details"] == {"max_bytes": 100}

    def chunks():
        for _ in range(50):
            yield b"y" * 10

    streamed = client.post("/test/hook", content=chunks())  # no Content-Length: chunked
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "payload_too_large"

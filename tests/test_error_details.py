"""The rule of ``details`` in the error shape: always an object or null; validation problems
under ``details.fields`` (a list). Checked over many kinds of errors of the real app."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from toolbox_core.app import create_app
from toolbox_core.errors import Conflict, details_object


def _follows_the_rule(response) -> dict:
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["details"] is None or isinstance(error["details"], dict), error
    return error


def test_every_kind_of_error_has_details_as_an_object_or_null(toolbox):
    from tests.checkout.helpers import make_variant

    app = create_app(toolbox=toolbox)
    router = APIRouter()

    @router.get("/test/listed")
    def listed() -> None:  # a plugin passing a list as details
        raise Conflict("two problems", code="many", details=["a", "b"])

    @router.get("/test/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    app.include_router(router)
    client = TestClient(app, raise_server_exceptions=False)
    variant = make_variant(toolbox, stock=1)
    cart_id = client.post("/store/carts").json()["id"]

    answers = {
        "body validation": client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": "x"}),
        "malformed json": client.post(f"/store/carts/{cart_id}/lines", content=b"{nope",
                                      headers={"content-type": "application/json"}),
        "query validation": client.get("/store/products", params={"limit": 100000}),
        "not found (domain)": client.get("/store/carts/cart_missing"),
        "not found (route)": client.get("/store/nothing-here"),
        "wrong method": client.delete("/health"),
        "out of stock": client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 2}),
        "unknown locale": client.post("/store/carts", json={"locale": "xx"}),
        "unauthorized": client.get("/admin/orders"),
        "list details": client.get("/test/listed"),
        "internal error": client.get("/test/crash"),
        "body too large": client.post("/store/carts", content=b"{" + b" " * 2_000_000 + b"}",
                                      headers={"content-type": "application/json"}),
    }
    for kind, response in answers.items():
        assert response.status_code >= 400, kind
        _follows_the_rule(response)

    for kind in ("body validation", "query validation"):
        fields = answers[kind].json()["error"]["details"]["fields"]
        assert isinstance(fields, list) and fields, kind
        assert set(fields[0]) == {"loc", "message", "type"}
    assert answers["body validation"].json()["error"]["details"]["fields"][0]["loc"] == ["body", "quantity"]
    assert answers["malformed json"].json()["error"]["details"]["fields"][0]["type"] == "json_invalid"
    assert answers["list details"].json()["error"]["details"] == {"items": ["a", "b"]}
    assert answers["not found (route)"].json()["error"]["details"] is None


def test_details_object_keeps_objects_and_null_and_wraps_the_rest():
    assert details_object(None) is None
    assert details_object({"sku": "A"}) == {"sku": "A"}
    assert details_object(("a",)) == {"items": ["a"]}
    assert details_object("why") == {"value": "why"}


def test_every_error_body_is_built_with_details_under_the_rule():
    from toolbox_core.errors import error_body, error_response

    assert error_body("many", "two problems", ["a", "b"], request_id="r1") == {
        "error": {"code": "many", "message": "two problems", "details": {"items": ["a", "b"]}, "request_id": "r1"}}
    assert error_body("why", "m", "because")["error"]["details"] == {"value": "because"}
    assert error_body("none", "m")["error"] == {"code": "none", "message": "m", "details": None, "request_id": None}
    import json

    assert json.loads(error_response(409, "many", "m", ("a",)).body)["error"]["details"] == {"items": ["a"]}


def test_an_error_keeps_its_details_under_the_rule_from_the_start():
    from toolbox_core.errors import RateLimited

    assert Conflict("two problems", details=["a", "b"]).details == {"items": ["a", "b"]}
    limited = RateLimited("slow down", retry_after=5, details=["per phone"])  # once a TypeError (a 500)
    assert limited.details == {"retry_after": 5, "items": ["per phone"]}


def test_error_texts_are_parsed_once_with_their_placeholders():
    from toolbox_core.texts import ERROR_MESSAGE_FIELDS, ERROR_MESSAGES

    ru = ERROR_MESSAGES["out_of_stock"]["ru"]
    assert ERROR_MESSAGE_FIELDS[ru[0]] == {"available"}
    assert ERROR_MESSAGE_FIELDS[ru[1]] == frozenset()
    every = {t for locales in ERROR_MESSAGES.values() for variants in locales.values() for t in variants}
    assert set(ERROR_MESSAGE_FIELDS) == every


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_nul_character_in_a_path_query_or_body_is_a_4xx_not_a_500(make_toolbox, make_client, database):
    """No route takes a NUL, in its URL or in a JSON body: 422, the same answer on every database
    (PostgreSQL text cannot hold one, and SQLite would store it)."""
    from toolbox_core.cart.models import Cart

    toolbox = make_toolbox(database=database)
    client = make_client(toolbox)
    cart = client.post("/store/carts", json={}).json()["id"]
    in_url = [
        client.get("/store/products", params={"q": "\x00drill"}),
        client.get("/store/products", params={"category": "to\x00ols"}),
        client.get("/store/products/%00x"),
        client.put(f"/store/carts/{cart}/lines/var%00x", json={"quantity": 1}),
    ]
    for response in in_url:
        assert response.status_code == 422, (response.request.url, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    in_body = [
        client.post(f"/store/carts/{cart}/lines", json={"variant_id": "var\x00x", "quantity": 1}),
        client.patch(f"/store/carts/{cart}", json={"email": "a\x00@b.uz"}),
        client.patch(f"/store/carts/{cart}", json={"address": {"city": "Toshkent\x00", "line1": "x"}}),
        client.patch(f"/store/carts/{cart}", json={"address": {"region": "T\x00", "city": "T"}}),
    ]
    for response in in_body:
        assert response.status_code == 422, (response.request.url, response.status_code, response.text)
        assert response.json()["error"] == {"code": "invalid_input", "details": None,
                                            "message": "text must not contain NUL (0x00) characters",
                                            "request_id": response.headers["x-request-id"]}
    with toolbox.db.session() as session:  # nothing was written
        stored = session.get(Cart, cart)
        assert (stored.email, stored.address) == (None, None)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_backslash_before_u0000_is_text_not_a_nul(make_toolbox, make_client, database):
    from toolbox_core.cart.models import Cart

    toolbox = make_toolbox(database=database)
    client = make_client(toolbox)
    cart = client.post("/store/carts", json={}).json()["id"]
    address = {"region": "Toshkent", "city": "Toshkent", "street": "C:\\u0000 street"}
    answer = client.patch(f"/store/carts/{cart}", json={"address": address})  # JSON: "C:\\\\u0000 street"
    assert answer.status_code == 200, answer.text
    with toolbox.db.session() as session:
        assert session.get(Cart, cart).address["street"] == "C:\\u0000 street"


def test_a_nul_split_between_two_chunks_of_a_streamed_body_is_found(make_toolbox, make_client):
    client = make_client(make_toolbox())
    cart = client.post("/store/carts", json={}).json()["id"]

    def chunks():
        yield b'{"email": "a\\u00'
        yield b'00@b.uz"}'

    answer = client.patch(f"/store/carts/{cart}", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json()["error"]["message"].startswith("text must not contain NUL")

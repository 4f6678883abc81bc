"""``/docs`` and ``/redoc`` work offline: every asset they reference is served by the app itself."""

from __future__ import annotations

import re

import pytest

EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def referenced_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_reference_only_local_assets_that_are_served(client, page):
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html, \
        "a URL on another host: the page would be blank offline"
    urls = referenced_urls(html)
    assert any(u.endswith(".js") for u in urls)
    for url in urls:
        assert url.startswith("/docs/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rfind("."):]
        assert asset.headers["content-type"].startswith(EXPECTED_TYPES[suffix]), url
        assert len(asset.content) > 1000, url


def test_swagger_ui_loads_the_schema_and_its_oauth2_redirect_page_is_local(client):
    html = client.get("/docs").text
    assert "url: '/openapi.json'" in html
    assert "/docs/assets/swagger-ui.css" in html and "/docs/assets/swagger-ui-bundle.js" in html
    assert '"validatorUrl": null' in html  # no badge fetched from swagger.io
    assert client.get("/openapi.json").json()["info"]["title"] == "Toolbox Commerce"
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "https://" not in redirect.text


def test_docs_assets_are_not_in_the_openapi_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]


def test_the_openapi_document_declares_the_error_shape_the_app_answers_with(client):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["Error"]["properties"]["error"]["required"]) == {"code", "message", "details", "request_id"}
    add_line = document["paths"]["/store/carts/{cart_id}/lines"]["post"]["responses"]["422"]
    assert add_line["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    refs = str(document)
    assert "HTTPValidationError" not in refs
    # ... and it is what a 422 really looks like
    answer = client.post("/store/carts/nope/lines", json={"quantity": "many"})
    assert answer.status_code == 422 and set(answer.json()) == {"error"}
    assert set(answer.json()["error"]) == set(schemas["Error"]["properties"]["error"]["properties"])

"""Image URLs in responses are absolute: from ``public_base_url``, else from the request's address."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pydantic import ValidationError

from tests.catalog.conftest import product_body
from toolbox_core.admin.auth import create_key
from toolbox_core.config import Settings


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def image_urls(toolbox, client) -> dict[str, str]:
    """Upload one image, then read its URL back from every response that carries it."""
    _, plain = create_key(toolbox, "images", ["catalog:write"])
    admin = {"Authorization": f"Bearer {plain}"}
    assert client.post("/admin/products", json=product_body(), headers=admin).status_code == 201
    uploaded = client.post("/admin/products/drill-x18/images", files={"file": ("d.png", png(), "image/png")}, headers=admin)
    assert uploaded.status_code == 201, uploaded.text
    return {
        "upload": uploaded.json()["url"],
        "admin": client.get("/admin/products/drill-x18", headers=admin).json()["images"][0]["url"],
        "store detail": client.get("/store/products/drill-x18").json()["images"][0]["url"],
        "store list": client.get("/store/products").json()["items"][0]["images"][0]["url"],
    }


def test_image_urls_are_built_from_the_configured_public_base_url(make_toolbox, make_client):
    toolbox = make_toolbox(public_base_url="https://api.shop.uz/")
    client = make_client(toolbox, base_url="http://10.0.0.7:8000")  # the internal address it is reached at
    urls = image_urls(toolbox, client)
    for where, url in urls.items():
        assert url.startswith("https://api.shop.uz/media/products/prod_"), where
    assert len(set(urls.values())) == 1
    # The configured URL is where the file is served (here: path /media/... of this app).
    assert client.get(urls["upload"].removeprefix("https://api.shop.uz")).status_code == 200


def test_without_a_configured_url_image_urls_use_the_requests_base_url(make_toolbox, make_client):
    toolbox = make_toolbox()
    client = make_client(toolbox, base_url="https://shop.example.uz")
    urls = image_urls(toolbox, client)
    for where, url in urls.items():
        assert url.startswith("https://shop.example.uz/media/products/prod_"), where
    assert client.get(urls["store detail"]).status_code == 200


def test_image_urls_outside_a_request_stay_relative_without_a_configured_url(make_toolbox):
    from toolbox_core.catalog.storage import get_storage

    assert get_storage(make_toolbox()).url("products/p/i.png") == "/media/products/p/i.png"
    assert get_storage(make_toolbox(public_base_url="https://api.shop.uz")).url("products/p/i.png") == \
        "https://api.shop.uz/media/products/p/i.png"


@pytest.mark.parametrize("value", ["api.shop.uz", "ftp://api.shop.uz", "https://api.shop.uz/?x=1", "https://"])
def test_a_public_base_url_that_is_not_an_absolute_http_url_is_refused(value):
    with pytest.raises(ValidationError, match="not a base URL"):
        Settings(public_base_url=value)

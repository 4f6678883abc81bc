"""Image upload and the storage backends (local files, S3 against moto's server)."""

from __future__ import annotations

import io
import sys

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from toolbox_core.catalog import models as m
from toolbox_core.config import Settings


def png(width: int = 4, height: int = 3) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def same_pixels(data: bytes, original: bytes) -> bool:
    """The stored file is re-encoded (metadata stripped): compare the pixels, not the bytes."""
    with Image.open(io.BytesIO(data)) as a, Image.open(io.BytesIO(original)) as b:
        return a.format == b.format and a.size == b.size and a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


def image_count(toolbox) -> int:
    with toolbox.db.session() as session:
        return session.scalar(select(func.count()).select_from(m.ProductImage))


def test_upload_image_is_served_locally_and_listed_in_the_store(client, admin, make_product, settings):
    make_product()
    response = client.post("/admin/products/drill-x18/images", files={"file": ("d.png", png(), "image/png")}, data={"alt": "Дрель"}, headers=admin)
    assert response.status_code == 201, response.text
    image = response.json()
    assert (image["width"], image["height"], image["content_type"]) == (4, 3, "image/png")
    assert image["url"].startswith("http://testserver/media/products/")  # absolute: the request's base URL
    served = client.get(image["url"])
    assert served.status_code == 200 and same_pixels(served.content, png())
    assert served.headers["x-content-type-options"] == "nosniff"
    store = client.get("/store/products/drill-x18").json()
    assert store["images"] == [{"id": image["id"], "url": image["url"], "width": 4, "height": 3, "alt": "Дрель"}]
    assert client.delete(f"/admin/images/{image['id']}", headers=admin).status_code == 204
    assert client.get(image["url"]).status_code == 404


def test_deleting_a_product_removes_its_image_files(client, toolbox, admin, make_product):
    from toolbox_core.catalog.service import Catalog

    make_product()
    image = client.post("/admin/products/drill-x18/images", files={"file": ("d.png", png(), "image/png")}, headers=admin).json()
    assert client.get(image["url"]).status_code == 200
    Catalog(toolbox).delete_product("drill-x18")
    assert client.get(image["url"]).status_code == 404 and image_count(toolbox) == 0


def test_non_image_upload_is_415_and_nothing_written(client, toolbox, admin, make_product, settings):
    from pathlib import Path

    make_product()
    response = client.post("/admin/products/drill-x18/images", files={"file": ("x.png", b"not an image at all", "image/png")}, headers=admin)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert image_count(toolbox) == 0
    assert not list(Path(settings.storage.local_path).rglob("*.*"))


def test_oversized_upload_is_413_and_nothing_written(client, toolbox, admin, make_product):
    make_product()
    toolbox.settings.storage.max_upload_bytes = 100
    response = client.post("/admin/products/drill-x18/images", files={"file": ("big.png", png(200, 200), "image/png")}, headers=admin)
    assert response.status_code == 413
    assert image_count(toolbox) == 0


def test_media_route_refuses_path_traversal(client):
    assert client.get("/media/../toolbox.db").status_code == 404
    assert client.get("/media/%2e%2e/secrets").status_code == 404


def test_embedded_app_import_does_not_pull_boto3():
    import subprocess

    code = "import sys; from toolbox_core.app import create_app; import toolbox_core.catalog.plugin; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def moto_url():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_settings(moto_url: str, **extra) -> Settings:
    storage = {
        "backend": "s3", "s3_bucket": "toolbox-test", "s3_endpoint_url": moto_url,
        "s3_access_key_id": "test", "s3_secret_access_key": "test", **extra,
    }
    return Settings(database_url="sqlite://", plugins=[], storage=storage)


def test_s3_storage_round_trip_with_presigned_url(moto_url):
    from toolbox_core.catalog.storage import build_storage

    storage = build_storage(s3_settings(moto_url))
    storage.ensure_bucket()
    storage.put("products/p1/a.png", png(), "image/png")
    assert storage.get("products/p1/a.png") == png()
    url = storage.url("products/p1/a.png")
    assert "X-Amz-Signature" in url
    fetched = httpx.get(url)
    assert fetched.status_code == 200 and fetched.content == png()
    assert fetched.headers["content-type"] == "image/png"
    storage.delete("products/p1/a.png")
    with pytest.raises(FileNotFoundError):
        storage.get("products/p1/a.png")


def test_s3_storage_public_urls(moto_url):
    from toolbox_core.catalog.storage import build_storage

    storage = build_storage(s3_settings(moto_url, s3_public_base_url="https://cdn.example.uz/toolbox/"))
    assert storage.url("products/p1/a.png") == "https://cdn.example.uz/toolbox/products/p1/a.png"


def test_upload_through_the_api_lands_in_s3(moto_url, sqlite_url, clean_env):
    from fastapi.testclient import TestClient

    from tests.catalog.conftest import product_body
    from toolbox_core.admin.auth import create_key
    from toolbox_core.app import create_app
    from toolbox_core.catalog.storage import get_storage
    from toolbox_core.kernel import Toolbox

    settings = s3_settings(moto_url)
    settings.database_url = sqlite_url
    toolbox = Toolbox.create(settings)
    get_storage(toolbox).ensure_bucket()
    _, plain = create_key(toolbox, "s3", ["catalog:write"])
    headers = {"Authorization": f"Bearer {plain}"}
    with TestClient(create_app(toolbox=toolbox)) as client:
        assert client.post("/admin/products", json=product_body(), headers=headers).status_code == 201
        image = client.post("/admin/products/drill-x18/images", files={"file": ("d.png", png(), "image/png")}, headers=headers).json()
        url = client.get("/store/products/drill-x18").json()["images"][0]["url"]
    toolbox.close()
    assert url.startswith(moto_url) and image["id"] in url
    assert same_pixels(httpx.get(url).content, png())

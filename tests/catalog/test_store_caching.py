"""Store catalog reads are cache friendly: ETag + Cache-Control, 304 on revalidation, and the
ETag changes whenever what the shopper sees changes (product, price, stock, translation)."""

from __future__ import annotations

import pytest

from tests.catalog.test_store_api import stock

READS = ["/store/products?limit=20", "/store/products/drill-x18", "/store/categories"]


def etag(client, path: str, **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, no-cache"
    assert response.headers["vary"] == "Accept-Language"
    return response.headers["etag"]


@pytest.mark.parametrize("path", READS)
def test_revalidation_with_the_current_etag_is_a_304_without_body(client, make_product, make_category, path):
    make_category("drills", "Дрели")
    make_product(categories=["drills"])
    tag = etag(client, path)
    assert tag.startswith('"') and tag.endswith('"')
    again = client.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    # A list of tags, a weak form of it, or * match too; any other tag gets the full body.
    assert client.get(path, headers={"If-None-Match": f'"other", W/{tag}'}).status_code == 304
    assert client.get(path, headers={"If-None-Match": "*"}).status_code == 304
    stale = client.get(path, headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.json()


def test_etag_changes_with_price_stock_translation_and_product(client, toolbox, admin, make_product, later):
    product = make_product()
    variant = product["variants"][0]["id"]
    seen = set()

    def changed() -> None:
        tags = (etag(client, "/store/products/drill-x18"), etag(client, "/store/products?limit=20"))
        assert not (set(tags) & seen), "a change in what the shopper sees kept the old ETag"
        seen.update(tags)

    changed()
    assert client.patch(f"/admin/variants/{variant}", json={"price": 99_000_00}, headers=admin).status_code == 200
    changed()
    stock(toolbox, "TB-DR18", 5)
    later()  # stock shows once the cached pages' freshness window has passed
    changed()
    body = {"title": "Дрель новая", "description": "Описание"}
    assert client.put(f"/admin/products/{product['id']}/translations/ru", json=body, headers=admin).status_code == 200
    changed()
    assert client.patch(f"/admin/products/{product['id']}", json={"metadata": {"new": True}}, headers=admin).status_code == 200
    changed()
    # Unchanged data: the same tag (caches keep working between changes).
    assert etag(client, "/store/products/drill-x18") in seen


def test_etag_differs_per_locale(client, make_product):
    make_product()
    assert etag(client, "/store/products/drill-x18?locale=ru") != etag(client, "/store/products/drill-x18?locale=uz")
    assert etag(client, "/store/products/drill-x18", **{"Accept-Language": "uz"}) == etag(client, "/store/products/drill-x18?locale=uz")


def test_cache_seconds_setting_allows_shared_caches(make_toolbox, make_client):
    toolbox = make_toolbox(store_cache_seconds=30)
    client = make_client(toolbox)
    assert client.get("/store/categories").headers["cache-control"] == "public, max-age=30"

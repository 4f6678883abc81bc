"""Catalog fixtures: admin keys and a helper to create products through the admin API."""

from __future__ import annotations

from typing import Any

import pytest

from toolbox_core.admin.auth import create_key


@pytest.fixture
def admin(toolbox: Any) -> dict[str, str]:
    """Headers of an admin key with the catalog:write scope."""
    _, plain = create_key(toolbox, "catalog tests", ["catalog:write"])
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def reader(toolbox: Any) -> dict[str, str]:
    _, plain = create_key(toolbox, "catalog reader", ["catalog:read"])
    return {"Authorization": f"Bearer {plain}"}


def product_body(handle: str = "drill-x18", *, sku: str = "TB-DR18", price: int = 125_000_000, status: str = "published",
                 ru: str = "Дрель-шуруповёрт аккумуляторная", uz: str | None = "Akkumulyatorli drel-shurupovyort", **extra: Any) -> dict[str, Any]:
    translations: dict[str, Any] = {"ru": {"title": ru, "description": "Описание"}}
    if uz is not None:
        translations["uz"] = {"title": uz, "description": "Tavsif"}
    body: dict[str, Any] = {
        "handle": handle,
        "status": status,
        "translations": translations,
        "variants": [{"sku": sku, "price": price, "mxik_code": "08467001001000000", "package_code": "1500", "vat_percent": 12}],
    }
    body.update(extra)
    return body


@pytest.fixture
def make_product(client: Any, admin: dict[str, str]):
    def make(**kwargs: Any) -> dict[str, Any]:
        response = client.post("/admin/products", json=product_body(**kwargs), headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def make_category(client: Any, admin: dict[str, str]):
    def make(handle: str, ru: str, uz: str | None = None, parent: str | None = None) -> dict[str, Any]:
        translations = {"ru": {"name": ru}}
        if uz:
            translations["uz"] = {"name": uz}
        response = client.post("/admin/categories", json={"handle": handle, "translations": translations, "parent": parent}, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch):
    """``later(seconds=60.001)``: move the page cache's clock forward (by default past any
    ``store_fresh_seconds``), as if that much time had passed since every cached page's check.
    The clock stands still otherwise, so a slow machine never ends a window by itself."""
    from toolbox_core.catalog import cache

    start = cache.clock()
    offset = [0.0]
    monkeypatch.setattr(cache, "clock", lambda: start + offset[0])

    def advance(seconds: float = 60.001) -> None:
        offset[0] += seconds

    return advance

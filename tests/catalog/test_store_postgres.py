"""The store read path on PostgreSQL (one statement per page, autocommit reads)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.catalog.conftest import product_body
from tests.catalog.test_store_api import stock
from toolbox_core.admin.auth import create_key
from toolbox_core.app import create_app
from toolbox_core.config import Settings
from toolbox_core.kernel import Toolbox


@pytest.mark.postgres
def test_store_pages_detail_and_filters_on_postgresql(pg_url, clean_env, tmp_path):
    toolbox = Toolbox.create(Settings(database_url=pg_url, plugins=[], storage={"backend": "local", "local_path": str(tmp_path)}))
    toolbox.migrate()
    try:
        _, plain = create_key(toolbox, "pg", ["catalog:write"])
        headers = {"Authorization": f"Bearer {plain}"}
        with TestClient(create_app(toolbox=toolbox)) as client:
            for i, price in enumerate([30_000_00, 10_000_00, 20_000_00]):
                assert client.post("/admin/products", json=product_body(f"p-{i}", sku=f"S{i}", price=price), headers=headers).status_code == 201
            client.post("/admin/products", json=product_body("hidden", sku="H", status="draft"), headers=headers)
            stock(toolbox, "S1", 4, 1)
            page = client.get("/store/products?limit=2&locale=uz").json()
            assert page["total"] == 3 and [i["handle"] for i in page["items"]] == ["p-2", "p-1"]
            assert [i["handle"] for i in client.get("/store/products?sort=price_asc").json()["items"]] == ["p-1", "p-2", "p-0"]
            assert client.get("/store/products?in_stock=true").json()["total"] == 1
            assert client.get("/store/products?offset=10").json() == {"items": [], "total": 3, "limit": 20, "offset": 10}
            detail = client.get("/store/products/p-1").json()
            assert detail["variants"][0]["available"] == 3 and detail["in_stock"] is True
            assert client.get(f"/store/products/{detail['id']}").json()["handle"] == "p-1"
            assert client.get("/store/products/hidden").status_code == 404
    finally:
        toolbox.close()

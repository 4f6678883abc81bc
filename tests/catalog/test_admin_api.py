"""Admin catalog API: auth, CRUD, bad input answered with a 4xx and nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.catalog.conftest import product_body
from toolbox_core.catalog import models as m
from toolbox_core.events.models import OutboxEvent


def count(toolbox, model) -> int:
    with toolbox.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def events(toolbox) -> list[tuple[str, dict]]:
    with toolbox.db.session() as session:
        rows = session.scalars(select(OutboxEvent).order_by(OutboxEvent.occurred_at, OutboxEvent.id)).all()
        return [(e.name, e.payload) for e in rows]


# ------------------------------------------------------------------------------ auth


@pytest.mark.parametrize("method,path", [
    ("get", "/admin/products"), ("post", "/admin/products"), ("get", "/admin/categories"),
    ("post", "/admin/collections"), ("patch", "/admin/variants/x"), ("post", "/admin/products/x/images"),
    ("get", "/admin/plugins"),
])
def test_admin_routes_refuse_anonymous_calls_with_401(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_read_scope_cannot_write(client, reader):
    assert client.get("/admin/products", headers=reader).status_code == 200
    response = client.post("/admin/products", json=product_body(), headers=reader)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_revoked_or_unknown_key_is_401(client, toolbox):
    from toolbox_core.admin.auth import create_key
    from toolbox_core.admin.models import AdminApiKey
    from toolbox_core.db.base import utcnow

    key, plain = create_key(toolbox, "gone", ["catalog:write"])
    with toolbox.db.transaction() as session:
        session.get(AdminApiKey, key.id).revoked_at = utcnow()
    assert client.get("/admin/products", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    assert client.get("/admin/products", headers={"Authorization": "Bearer tbx_admin_nope"}).status_code == 401


def test_plugins_listing_needs_the_plugins_read_scope(client, toolbox, admin):
    from toolbox_core.admin.auth import create_key

    assert client.get("/admin/plugins").status_code == 401
    assert client.get("/admin/plugins", headers=admin).status_code == 403
    _, plain = create_key(toolbox, "ops", ["plugins:read"])
    response = client.get("/admin/plugins", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200
    assert "core.catalog" in {p["name"] for p in response.json()["plugins"]}


# ------------------------------------------------------------------------------ CRUD


def test_product_lifecycle_emits_events_in_the_same_transaction(client, toolbox, admin, make_product):
    product = make_product(status="draft")
    assert product["translations"]["uz"]["title"].startswith("Akkumulyatorli")
    assert product["variants"][0]["vat_percent"] == 12
    response = client.patch(f"/admin/products/{product['id']}", json={"status": "published"}, headers=admin)
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert client.get("/store/products/drill-x18").status_code == 200
    assert client.delete(f"/admin/products/{product['id']}", headers=admin).status_code == 204
    assert client.get("/store/products/drill-x18").status_code == 404
    assert [name for name, _ in events(toolbox)] == ["product.created", "product.updated", "product.deleted"]
    assert events(toolbox)[0][1] == {"product_id": product["id"], "handle": "drill-x18", "status": "draft"}
    assert count(toolbox, m.ProductVariant) == 0


def test_translations_can_be_set_per_locale(client, admin, make_product):
    make_product(uz=None)
    response = client.put("/admin/products/drill-x18/translations/uz", json={"title": "Drel", "description": "Yaxshi"}, headers=admin)
    assert response.status_code == 200
    assert client.get("/store/products/drill-x18?locale=uz").json()["title"] == "Drel"
    assert client.delete("/admin/products/drill-x18/translations/ru", headers=admin).status_code == 422


def test_variant_price_and_fiscal_codes_change_the_store_view(client, admin, make_product):
    product = make_product()
    vid = product["variants"][0]["id"]
    assert client.patch(f"/admin/variants/{vid}", json={"price": 99_000_00, "compare_at_price": 125_000_000}, headers=admin).status_code == 200
    fiscal = {"mxik_code": "08467001002000000", "package_code": "1501", "vat_percent": 0}
    assert client.put(f"/admin/variants/{vid}/fiscal", json=fiscal, headers=admin).json()["mxik_code"] == "08467001002000000"
    variant = client.get("/store/products/drill-x18").json()["variants"][0]
    assert (variant["price"], variant["compare_at_price"], variant["vat_percent"]) == (99_000_00, 125_000_000, 0)


def test_add_and_delete_variants(client, admin, make_product):
    product = make_product()
    response = client.post(f"/admin/products/{product['id']}/variants", json={"sku": "TB-DR18-2", "price": 150_000_000}, headers=admin)
    assert response.status_code == 201
    assert len(client.get("/store/products/drill-x18").json()["variants"]) == 2
    assert client.delete(f"/admin/variants/{response.json()['id']}", headers=admin).status_code == 204
    last = product["variants"][0]["id"]
    assert client.delete(f"/admin/variants/{last}", headers=admin).status_code == 409


def test_category_rename_updates_product_documents(client, admin, make_product, make_category):
    make_category("drills", "Дрели")
    make_product(categories=["drills"])
    assert client.patch("/admin/categories/drills", json={"translations": {"ru": {"name": "Дрели и шуруповёрты"}}}, headers=admin).status_code == 200
    assert client.get("/store/products/drill-x18").json()["categories"][0]["name"] == "Дрели и шуруповёрты"


# ------------------------------------------------------------------------------ bad input


def test_negative_price_is_refused_and_nothing_is_written(client, toolbox, admin):
    response = client.post("/admin/products", json=product_body(price=-1), headers=admin)
    assert response.status_code == 422
    assert "price" in response.json()["error"]["message"]
    assert count(toolbox, m.Product) == 0


def test_float_price_is_refused(client, admin):
    assert client.post("/admin/products", json=product_body(price=10.5), headers=admin).status_code == 422


def test_negative_price_on_variant_patch_is_refused(client, admin, make_product):
    vid = make_product()["variants"][0]["id"]
    assert client.patch(f"/admin/variants/{vid}", json={"price": -5}, headers=admin).status_code == 422
    assert client.get("/store/products/drill-x18").json()["variants"][0]["price"] == 125_000_000


def test_duplicate_handle_is_409_and_nothing_written(client, toolbox, admin, make_product):
    make_product()
    response = client.post("/admin/products", json=product_body(sku="OTHER"), headers=admin)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_handle"
    assert count(toolbox, m.Product) == 1 and count(toolbox, m.ProductVariant) == 1


def test_duplicate_sku_is_409_and_nothing_written(client, toolbox, admin, make_product):
    make_product()
    response = client.post("/admin/products", json=product_body(handle="other"), headers=admin)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_sku"
    body = product_body(handle="twice")
    body["variants"].append(dict(body["variants"][0]))
    body["variants"][0]["sku"] = body["variants"][1]["sku"] = "SAME"
    assert client.post("/admin/products", json=body, headers=admin).status_code == 409
    assert count(toolbox, m.Product) == 1 and count(toolbox, m.ProductDocument) == 2


def test_duplicate_sku_on_variant_patch_is_409(client, admin, make_product):
    make_product()
    other = make_product(handle="other", sku="OTHER")
    response = client.patch(f"/admin/variants/{other['variants'][0]['id']}", json={"sku": "TB-DR18"}, headers=admin)
    assert response.status_code == 409


def test_unknown_locale_in_translations_is_422(client, toolbox, admin):
    body = product_body()
    body["translations"]["fr"] = {"title": "Perceuse"}
    response = client.post("/admin/products", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_locale"
    assert count(toolbox, m.Product) == 0


def test_product_without_default_locale_text_is_422(client, admin):
    body = product_body()
    del body["translations"]["ru"]
    assert client.post("/admin/products", json=body, headers=admin).json()["error"]["code"] == "missing_default_locale"


def test_category_cycle_is_refused(client, admin, make_category):
    make_category("a", "A")
    make_category("b", "B", parent="a")
    make_category("c", "C", parent="b")
    response = client.patch("/admin/categories/a", json={"parent": "c"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "category_cycle"
    assert client.patch("/admin/categories/a", json={"parent": "a"}, headers=admin).status_code == 422
    assert client.get("/admin/categories/a", headers=admin).json()["parent_id"] is None


def test_category_with_children_cannot_be_deleted(client, admin, make_category):
    make_category("a", "A")
    make_category("b", "B", parent="a")
    assert client.delete("/admin/categories/a", headers=admin).status_code == 409
    assert client.delete("/admin/categories/b", headers=admin).status_code == 204


def test_unknown_category_link_is_422_and_nothing_written(client, toolbox, admin):
    response = client.post("/admin/products", json=product_body(categories=["nope"]), headers=admin)
    assert response.status_code == 422
    assert count(toolbox, m.Product) == 0


def test_bad_mxik_code_is_422(client, admin):
    body = product_body()
    body["variants"][0]["mxik_code"] = "12ab"
    assert client.post("/admin/products", json=body, headers=admin).status_code == 422


def test_unknown_product_is_404(client, admin):
    assert client.get("/admin/products/nope", headers=admin).status_code == 404
    assert client.patch("/admin/products/nope", json={"status": "draft"}, headers=admin).status_code == 404


def test_admin_product_list_items_are_the_detail_views_of_each_product(client, admin, make_product, make_category):
    make_category("drills", "Дрели")
    make_category("saws", "Пилы")
    options = [{"code": "color", "translations": {"ru": "Цвет"},
                "values": [{"code": "red", "translations": {"ru": "Красный"}}, {"code": "blue", "translations": {"ru": "Синий"}}]}]
    make_product(handle="drill", sku="D-RED", categories=["drills"], options=options,
                 variants=[{"sku": "D-RED", "price": 100, "options": {"color": "red"}},
                           {"sku": "D-BLUE", "price": 200, "options": {"color": "blue"}}])
    make_product(handle="saw", sku="S", categories=["saws"], status="draft")
    listed = client.get("/admin/products", headers=admin).json()
    assert listed["total"] == 2
    for item in listed["items"]:
        assert item == client.get(f"/admin/products/{item['id']}", headers=admin).json()
    by_handle = {i["handle"]: i for i in listed["items"]}
    assert by_handle["drill"]["categories"] == ["drills"] and by_handle["saw"]["categories"] == ["saws"]
    assert [v["options"] for v in by_handle["drill"]["variants"]] == [{"color": "red"}, {"color": "blue"}]
    assert [i["handle"] for i in client.get("/admin/products?status=draft", headers=admin).json()["items"]] == ["saw"]


def test_admin_product_list_refuses_bad_filters_and_pagination(client, admin):
    for query in ("status=deleted", "limit=0", "limit=500", "offset=-1"):
        response = client.get(f"/admin/products?{query}", headers=admin)
        assert response.status_code == 422, query
        assert response.json()["error"]["code"] == "invalid_input"


def test_unknown_category_collection_and_variant_are_404(client, admin):
    for path in ("/admin/categories/nope", "/admin/collections/nope", "/admin/variants/nope"):
        response = client.get(path, headers=admin)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert client.patch("/admin/collections/nope", json={"translations": {"ru": "x"}}, headers=admin).status_code == 404
    assert client.delete("/admin/collections/nope", headers=admin).status_code == 404


def test_variant_endpoints_show_the_variant_options(client, admin, make_product):
    options = [{"code": "color", "translations": {"ru": "Цвет"},
                "values": [{"code": "red", "translations": {"ru": "Красный"}}, {"code": "blue", "translations": {"ru": "Синий"}}]}]
    product = make_product(handle="drill", options=options, variants=[{"sku": "D-RED", "price": 100, "options": {"color": "red"}}])
    variant_id = product["variants"][0]["id"]
    assert client.get(f"/admin/variants/{variant_id}", headers=admin).json()["options"] == {"color": "red"}
    patched = client.patch(f"/admin/variants/{variant_id}", json={"options": {"color": "blue"}}, headers=admin)
    assert patched.status_code == 200 and patched.json()["options"] == {"color": "blue"}

"""Store API: what a storefront sees."""

from __future__ import annotations

from toolbox_core.inventory.models import InventoryLevel, StockLocation


def stock(toolbox, sku: str, stocked: int, reserved: int = 0, location: str = "default") -> None:
    with toolbox.db.transaction() as session:
        loc = session.query(StockLocation).filter_by(code=location).one_or_none()
        if loc is None:
            loc = StockLocation(id=f"loc_{location}", code=location, name=location)
            session.add(loc)
            session.flush()
        session.add(InventoryLevel(sku=sku, location_id=loc.id, stocked=stocked, reserved=reserved))


def test_published_product_is_listed_with_total_and_price(client, make_product):
    make_product()
    body = client.get("/store/products").json()
    assert body["total"] == 1
    item = body["items"][0]
    assert item["handle"] == "drill-x18"
    assert item["variants"][0]["price"] == 125_000_000
    assert item["variants"][0]["mxik_code"] == "08467001001000000"
    assert item["price"] == {"min": 125_000_000, "max": 125_000_000, "currency": "UZS"}


def test_draft_and_archived_products_are_invisible(client, make_product):
    draft = make_product(handle="draft-one", sku="D1", status="draft")
    make_product(handle="old-one", sku="A1", status="archived")
    assert client.get("/store/products").json()["total"] == 0
    assert client.get(f"/store/products/{draft['id']}").status_code == 404
    assert client.get("/store/products/draft-one").status_code == 404


def test_product_detail_by_id_and_by_handle(client, make_product):
    product = make_product()
    assert client.get(f"/store/products/{product['id']}").json()["handle"] == "drill-x18"
    assert client.get("/store/products/drill-x18").json()["id"] == product["id"]


def test_locale_from_query_and_accept_language(client, make_product):
    make_product()
    assert client.get("/store/products/drill-x18?locale=uz").json()["title"] == "Akkumulyatorli drel-shurupovyort"
    headers = {"Accept-Language": "uz-UZ,uz;q=0.9,en;q=0.5"}
    assert client.get("/store/products/drill-x18", headers=headers).json()["title"].startswith("Akkumulyatorli")
    assert client.get("/store/products/drill-x18", headers={"Accept-Language": "en"}).json()["title"].startswith("Дрель")


def test_missing_translation_falls_back_to_default_locale_never_empty(client, make_product):
    make_product(uz=None)
    item = client.get("/store/products?locale=uz").json()["items"][0]
    assert item["title"] == "Дрель-шуруповёрт аккумуляторная"
    assert item["description"] == "Описание"
    assert item["variants"][0]["title"]


def test_unknown_locale_is_a_clear_422(client, make_product):
    response = client.get("/store/products?locale=fr")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_locale"


def test_malformed_pagination_is_refused(client):
    for query in ("limit=0", "limit=1000", "limit=abc", "offset=-1", "offset=x"):
        response = client.get(f"/store/products?{query}")
        assert response.status_code == 422, query
        assert response.json()["error"]["code"] == "invalid_input"


def test_pagination_with_limit_offset_and_total(client, make_product):
    for i in range(5):
        make_product(handle=f"p-{i}", sku=f"S-{i}")
    page = client.get("/store/products?limit=2&offset=2").json()
    assert page["total"] == 5 and len(page["items"]) == 2
    all_handles = [i["handle"] for i in client.get("/store/products?limit=10").json()["items"]]
    assert all_handles == ["p-4", "p-3", "p-2", "p-1", "p-0"]  # newest first
    assert [i["handle"] for i in page["items"]] == all_handles[2:4]


def test_sort_by_price_and_price_range_filter(client, make_product):
    make_product(handle="cheap", sku="C", price=10_000_00)
    make_product(handle="mid", sku="M", price=50_000_00)
    make_product(handle="dear", sku="D", price=90_000_00)
    asc = [i["handle"] for i in client.get("/store/products?sort=price_asc").json()["items"]]
    assert asc == ["cheap", "mid", "dear"]
    desc = [i["handle"] for i in client.get("/store/products?sort=price_desc").json()["items"]]
    assert desc == ["dear", "mid", "cheap"]
    ranged = client.get("/store/products?price_min=2000000&price_max=6000000").json()
    assert [i["handle"] for i in ranged["items"]] == ["mid"] and ranged["total"] == 1


def test_price_min_above_price_max_is_a_clear_422(client, make_product):
    make_product()
    resp = client.get("/store/products?price_min=6000000&price_max=2000000")
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_price_range"


def test_unknown_sort_value_is_a_clear_422(client):
    resp = client.get("/store/products?sort=cheapest")
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_input"


def test_unknown_product_handle_is_404(client, make_product):
    make_product()
    resp = client.get("/store/products/no-such-product")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


def test_availability_per_variant_and_in_stock_filter(client, toolbox, make_product):
    make_product(handle="stocked", sku="IN")
    make_product(handle="empty", sku="OUT")
    stock(toolbox, "IN", 5, 2)
    stock(toolbox, "IN", 3, 0, location="second")
    stock(toolbox, "OUT", 1, 4)  # over-reserved counts as zero, never negative
    detail = client.get("/store/products/stocked").json()
    assert detail["variants"][0]["available"] == 6
    assert detail["variants"][0]["in_stock"] is True and detail["in_stock"] is True
    assert client.get("/store/products/empty").json()["variants"][0]["available"] == 0
    assert [i["handle"] for i in client.get("/store/products?in_stock=true").json()["items"]] == ["stocked"]
    assert [i["handle"] for i in client.get("/store/products?in_stock=false").json()["items"]] == ["empty"]


def test_category_filter_includes_children_and_tree_is_localized(client, make_product, make_category):
    tools = make_category("power-tools", "Электроинструмент", "Elektr asboblar")
    drills = make_category("drills", "Дрели", "Drellar", parent="power-tools")
    make_category("hand-tools", "Ручной инструмент")
    make_product(handle="drill", sku="D", categories=[drills["handle"]])
    make_product(handle="hammer", sku="H", categories=["hand-tools"])
    in_tools = client.get("/store/products?category=power-tools").json()
    assert [i["handle"] for i in in_tools["items"]] == ["drill"]
    assert client.get(f"/store/products?category={tools['id']}").json()["total"] == 1
    assert client.get("/store/products?category=nope").status_code == 404
    tree = client.get("/store/categories?locale=uz").json()["categories"]
    by_handle = {c["handle"]: c for c in tree}
    assert by_handle["power-tools"]["name"] == "Elektr asboblar"
    assert by_handle["power-tools"]["children"][0]["name"] == "Drellar"
    assert by_handle["hand-tools"]["name"] == "Ручной инструмент"  # fallback to ru


def test_collection_filter(client, admin, make_product):
    assert client.post("/admin/collections", json={"handle": "pro", "translations": {"ru": "Про", "uz": "Pro"}}, headers=admin).status_code == 201
    make_product(handle="pro-drill", sku="P", collections=["pro"])
    make_product(handle="basic", sku="B")
    body = client.get("/store/products?collection=pro&locale=uz").json()
    assert [i["handle"] for i in body["items"]] == ["pro-drill"]
    assert body["items"][0]["collections"][0]["title"] == "Pro"


def test_options_and_variant_titles_are_localized(client, admin):
    body = {
        "handle": "grinder", "status": "published",
        "translations": {"ru": {"title": "Болгарка"}, "uz": {"title": "Burchak silliqlash mashinasi"}},
        "options": [{"code": "disc", "translations": {"ru": "Диаметр диска", "uz": "Disk diametri"},
                     "values": [{"code": "125", "translations": {"ru": "125 мм", "uz": "125 mm"}},
                                {"code": "230", "translations": {"ru": "230 мм"}}]}],
        "variants": [{"sku": "G125", "price": 50_000_000, "options": {"disc": "125"}},
                     {"sku": "G230", "price": 90_000_000, "options": {"disc": "230"}}],
    }
    assert client.post("/admin/products", json=body, headers=admin).status_code == 201
    item = client.get("/store/products/grinder?locale=uz").json()
    assert item["options"][0]["name"] == "Disk diametri"
    assert [v["value"] for v in item["options"][0]["values"]] == ["125 mm", "230 мм"]
    assert [v["title"] for v in item["variants"]] == ["125 mm", "230 мм"]
    assert item["variants"][1]["options"] == {"disc": "230"}


def test_total_stays_exact_through_publish_unpublish_and_delete(client, admin, make_product):
    a = make_product(handle="a", sku="A")
    make_product(handle="b", sku="B")
    make_product(handle="c", sku="C", status="draft")
    assert client.get("/store/products").json()["total"] == 2
    client.patch("/admin/products/c", json={"status": "published"}, headers=admin)
    client.patch("/admin/products/b", json={"status": "archived"}, headers=admin)
    client.patch("/admin/products/a", json={"translations": {"uz": {"title": "Yangi"}}}, headers=admin)
    assert client.get("/store/products").json()["total"] == 2
    client.delete(f"/admin/products/{a['id']}", headers=admin)
    body = client.get("/store/products").json()
    assert body["total"] == 1 and [i["handle"] for i in body["items"]] == ["c"]

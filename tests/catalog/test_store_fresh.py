"""The store's fresh path: a page checked less than ``store_fresh_seconds`` ago is served with
no statement and no thread; a change made elsewhere (another process's admin write, stock)
shows once the window has passed, this process's own catalog writes at once; a page in use
is checked in the background, and one check statement checks the other pages due one."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, update

from tests.catalog.conftest import product_body
from tests.catalog.test_store_api import stock
from toolbox_core.admin.auth import create_key
from toolbox_core.app import create_app
from toolbox_core.catalog import reads, store_api
from toolbox_core.catalog.cache import page_cache
from toolbox_core.catalog.models import ProductVariant
from toolbox_core.catalog.service import Catalog
from toolbox_core.inventory.models import InventoryLevel
from toolbox_core.kernel import Toolbox

PAGES = ["/store/products?limit=20", "/store/products/drill-x18", "/store/products?q=drill"]


def restock(toolbox: Any, sku: str, stocked: int) -> None:
    """Set the stock of ``sku`` (levels written directly, as a stock sync does: no catalog write)."""
    with toolbox.db.transaction() as session:
        session.execute(update(InventoryLevel).where(InventoryLevel.sku == sku).values(stocked=stocked))


class Statements:
    """Statements run on ``toolbox``'s engine while counting."""

    def __init__(self, toolbox: Any) -> None:
        self.engine, self.seen = toolbox.db.engine, []

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self.seen

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)

    def _note(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Not SQLite's BEGIN, nor the event relay's polls (its own thread, at any time).
        if statement.lstrip().upper().startswith("SELECT") and threading.current_thread().name != "toolbox-relay":
            self.seen.append(statement)


def test_a_fresh_page_is_served_with_no_statement_and_no_thread(client, toolbox, make_product, monkeypatch, later):
    # ``later`` stops the page cache's clock: on a busy machine the real one ran past half the
    # window between the reads (a background check then counted one statement).
    make_product(ru="Дрель drill")
    first = {path: client.get(path) for path in PAGES}
    assert all(r.status_code == 200 and r.json() for r in first.values())

    async def no_thread(*_: Any, **__: Any) -> Any:
        raise AssertionError("a fresh page went to the thread pool")

    monkeypatch.setattr(store_api, "run_in_threadpool", no_thread)
    with Statements(toolbox) as statements:
        for path, response in first.items():
            again = client.get(path)
            assert again.content == response.content and again.headers["etag"] == response.headers["etag"]
            revalidated = client.get(path, headers={"If-None-Match": response.headers["etag"]})
            assert revalidated.status_code == 304 and revalidated.content == b""
    assert statements == []


def other_process(toolbox: Any) -> tuple[Toolbox, TestClient, dict[str, str]]:
    """Another API process on the same database: its own toolbox, page cache and app."""
    other = Toolbox.create(toolbox.settings)
    _, plain = create_key(other, "other", ["catalog:write"])
    return other, TestClient(create_app(toolbox=other)), {"Authorization": f"Bearer {plain}"}


def check_lag_then_current(toolbox: Any, later: Any) -> None:
    """A price set and stock changed through another process: this process shows the old
    page within the window and the new one after it; its own write shows at once."""
    with TestClient(create_app(toolbox=toolbox)) as client:
        other, other_client, headers = other_process(toolbox)
        try:
            with other_client:
                drill = other_client.post("/admin/products", json=product_body(), headers=headers).json()
                stock(toolbox, "TB-DR18", 3)
                before = {path: client.get(path).json() for path in PAGES[:2]}
                variant = drill["variants"][0]["id"]
                assert other_client.patch(f"/admin/variants/{variant}", json={"price": 10_000_00},
                                          headers=headers).status_code == 200
                restock(toolbox, "TB-DR18", 7)
                # Within the window: the page as checked (another process wrote; stock lags).
                assert {path: client.get(path).json() for path in PAGES[:2]} == before
                later()
                detail = client.get("/store/products/drill-x18").json()
                assert detail["variants"][0]["price"] == 10_000_00 and detail["variants"][0]["available"] == 7
                listed = client.get("/store/products?limit=20").json()["items"][0]
                assert listed["variants"][0]["price"] == 10_000_00 and listed["variants"][0]["available"] == 7
                # This process's own write: at once, whatever the window.
                _, plain = create_key(toolbox, "own", ["catalog:write"])
                own = {"Authorization": f"Bearer {plain}"}
                assert client.patch(f"/admin/variants/{variant}", json={"price": 20_000_00}, headers=own).status_code == 200
                assert client.get("/store/products/drill-x18").json()["variants"][0]["price"] == 20_000_00
        finally:
            other.close()


def test_another_process_write_and_stock_show_after_the_window(toolbox, later):
    check_lag_then_current(toolbox, later)


@pytest.mark.postgres
def test_another_process_write_shows_after_the_window_on_postgresql(make_toolbox, later):
    check_lag_then_current(make_toolbox(database="postgres"), later)


@pytest.mark.postgres
def test_a_write_is_visible_once_the_real_window_has_passed_on_postgresql(make_toolbox):
    toolbox = make_toolbox(database="postgres", store_fresh_seconds=0.3)
    with TestClient(create_app(toolbox=toolbox)) as client:
        other, other_client, headers = other_process(toolbox)
        try:
            with other_client:
                drill = other_client.post("/admin/products", json=product_body(), headers=headers).json()
                assert client.get("/store/products/drill-x18").json()["variants"][0]["price"] == 125_000_000
                variant = drill["variants"][0]["id"]
                assert other_client.patch(f"/admin/variants/{variant}", json={"price": 10_000_00},
                                          headers=headers).status_code == 200
                time.sleep(0.35)
                assert client.get("/store/products/drill-x18").json()["variants"][0]["price"] == 10_000_00
        finally:
            other.close()


def test_no_window_checks_every_read(make_toolbox):
    toolbox = make_toolbox(store_fresh_seconds=0)
    _, plain = create_key(toolbox, "w", ["catalog:write"])
    with TestClient(create_app(toolbox=toolbox)) as client:
        assert client.post("/admin/products", json=product_body(), headers={"Authorization": f"Bearer {plain}"}).status_code == 201
        first = client.get("/store/products/drill-x18").json()
        stock(toolbox, "TB-DR18", 4)  # the first stock level of the SKU
        with Statements(toolbox) as statements:
            again = client.get("/store/products/drill-x18").json()
        assert len(statements) == 1 and "product_documents" not in statements[0]
        assert first["variants"][0]["available"] == 0 and again["variants"][0]["available"] == 4


def without_variants(toolbox: Any, product_id: str) -> None:
    """Take every variant off a product, as data written around the admin API (which keeps one)
    can leave it; its documents are rebuilt in the same transaction."""
    with toolbox.db.transaction() as session:
        session.execute(delete(ProductVariant).where(ProductVariant.product_id == product_id))
        Catalog(toolbox).refresh(session, [product_id])


@pytest.mark.parametrize("path", ["/store/products/drill-x18", "/store/products?limit=20"])
def test_a_product_without_variants_is_cached_like_any_other(client, toolbox, make_product, later, path):
    without_variants(toolbox, make_product()["id"])
    check_cached_like_any_other(client, toolbox, later, path)


@pytest.mark.postgres
def test_a_product_without_variants_is_cached_like_any_other_on_postgresql(make_toolbox, later):
    toolbox = make_toolbox(database="postgres")
    _, plain = create_key(toolbox, "pg", ["catalog:write"])
    with TestClient(create_app(toolbox=toolbox)) as client:
        drill = client.post("/admin/products", json=product_body(), headers={"Authorization": f"Bearer {plain}"}).json()
        without_variants(toolbox, drill["id"])
        for path in ("/store/products/drill-x18", "/store/products?limit=20"):
            check_cached_like_any_other(client, toolbox, later, path)


def check_cached_like_any_other(client: Any, toolbox: Any, later: Any, path: str) -> None:
    """``path`` (a page of one product without variants) is fresh, then checked with one
    statement and kept, then fresh again."""
    first = client.get(path)
    assert first.status_code == 200 and b'"variants":[]' in first.content
    with Statements(toolbox) as statements:
        assert client.get(path).content == first.content  # within the window
    assert statements == []
    later()
    with Statements(toolbox) as statements:
        assert client.get(path).content == first.content  # past it: checked, and kept
    assert len(statements) == 1 and "product_documents" not in statements[0]
    with Statements(toolbox) as statements:
        assert client.get(path).content == first.content  # fresh again
    assert statements == []


def test_a_page_past_half_its_window_is_checked_in_the_background(toolbox, make_product, later):
    make_product()
    body = reads.serve_product(toolbox, "drill-x18", "ru").body
    later(0.6)  # past half of the default 1 s
    fresh = reads.fresh_product(toolbox, "drill-x18", "ru")
    assert fresh is not None and fresh.served.body == body and fresh.refresh is not None
    # Only the first response past half the window schedules the check.
    assert reads.fresh_product(toolbox, "drill-x18", "ru").refresh is None
    stock(toolbox, "TB-DR18", 6)
    with Statements(toolbox) as statements:
        fresh.refresh()
    assert len(statements) == 1
    later(0.45)  # 1.05 s after the fill, 0.45 s after the check: fresh, with the new stock
    again = reads.fresh_product(toolbox, "drill-x18", "ru")
    assert again is not None and again.refresh is None
    assert b'"available":6' in again.served.body


def test_a_background_check_that_never_ran_does_not_stop_later_ones(toolbox, make_product, later):
    make_product()
    reads.serve_product(toolbox, "drill-x18", "ru")
    later(0.6)
    assert reads.fresh_product(toolbox, "drill-x18", "ru").refresh is not None  # handed out, never run
    later(0.5)  # the window has passed: the next read checks in the request
    assert reads.fresh_product(toolbox, "drill-x18", "ru") is None
    reads.serve_product(toolbox, "drill-x18", "ru")
    later(0.6)  # past half the new window: a background check is handed out again
    assert reads.fresh_product(toolbox, "drill-x18", "ru").refresh is not None


def test_one_check_statement_checks_the_other_pages_in_use(toolbox, make_product, later):
    make_product()
    make_product(handle="saw", sku="SAW", ru="Пила")
    for handle in ("drill-x18", "saw"):
        reads.serve_product(toolbox, handle, "ru")
    later(1.1)  # both past the window
    assert reads.fresh_product(toolbox, "saw", "ru") is None
    stock(toolbox, "SAW", 2)
    with Statements(toolbox) as statements:
        reads.serve_product(toolbox, "drill-x18", "ru")
    assert len(statements) == 1
    saw = reads.fresh_product(toolbox, "saw", "ru")  # checked by the drill's statement
    assert saw is not None and b'"available":2' in saw.served.body


def test_the_page_cache_serves_search_pages_as_the_database_reads_them(client, toolbox, admin):
    drill = client.post("/admin/products", json=product_body(), headers=admin).json()
    query = reads.ProductQuery(locale="ru", q="дрель")
    first = reads.list_products(toolbox, query)
    assert [item["id"] for item in json.loads(first)["items"]] == [drill["id"]]
    assert len(page_cache(toolbox)) > 0
    text = {"title": "Пила новая", "description": "Описание"}
    assert client.put(f"/admin/products/{drill['id']}/translations/ru", json=text, headers=admin).status_code == 200
    other = Toolbox.create(toolbox.settings)
    try:
        assert reads.list_products(toolbox, query) == reads.list_products(other, query)
        assert reads.list_products(toolbox, reads.ProductQuery(locale="ru", q="пила")) == \
            reads.list_products(other, reads.ProductQuery(locale="ru", q="пила"))
    finally:
        other.close()


def test_own_writes_show_at_once_also_after_the_engine_is_disposed(client, toolbox, admin):
    """``dispose()`` gives the engine a new pool: the cache follows it, so this process's own
    catalog writes still end freshness at once."""
    drill = client.post("/admin/products", json=product_body(), headers=admin).json()
    assert client.get("/store/products/drill-x18").status_code == 200  # cached, fresh
    toolbox.db.dispose()
    variant = drill["variants"][0]["id"]
    assert client.patch(f"/admin/variants/{variant}", json={"price": 30_000_00}, headers=admin).status_code == 200
    assert client.get("/store/products/drill-x18").json()["variants"][0]["price"] == 30_000_00


#: Spellings of one search: case, surrounding and repeated spaces, decomposed (NFD) letters,
#: ``ё`` as ``е``, full-width (NFKC) forms and the Latin transliteration.
SPELLINGS = ["чай зелёный", "  Чай   Зелёный ", "ЧАЙ ЗЕЛЁНЫЙ", "чаи\u0306 зеле\u0308ныи\u0306", "чай зеленый",
             "ｃｈａｙ ｚｅｌｅｎｉｙ", "chay zeleniy"]


def test_spellings_of_one_search_share_one_cached_page(client, toolbox, make_product, later):
    make_product(handle="green-tea", sku="TEA-1", ru="Чай зелёный листовой")
    make_product(handle="black-tea", sku="TEA-2", ru="Чай чёрный")
    first = client.get("/store/products", params={"q": SPELLINGS[0]})
    assert first.json()["items"][0]["handle"] == "green-tea"
    with Statements(toolbox) as statements:
        for spelling in SPELLINGS[1:]:
            assert client.get("/store/products", params={"q": spelling}).content == first.content, spelling
    assert statements == []  # each one the same fresh page
    assert len(page_cache(toolbox)) == 1


def test_searches_that_look_up_different_codes_keep_their_own_pages(client, toolbox, make_product):
    """A code is looked up exactly as typed (and upper-cased, for SKUs): barcode ``Ab7x`` is found
    by ``Ab7x`` and not by ``ab7x`` (nor by the words: a barcode is not searched as text). So the
    two are two pages, whatever the words they normalize to."""
    variant = {"sku": "SAW-1", "price": 50_000_00, "barcode": "Ab7x"}
    make_product(handle="saw", ru="Пила", variants=[variant])
    assert [item["handle"] for item in client.get("/store/products", params={"q": "Ab7x"}).json()["items"]] == ["saw"]
    assert client.get("/store/products", params={"q": "ab7x"}).json()["items"] == []
    assert len(page_cache(toolbox)) == 1  # the found page (an empty search page is not kept)
    assert [item["handle"] for item in client.get("/store/products", params={"q": "Ab7x"}).json()["items"]] == ["saw"]

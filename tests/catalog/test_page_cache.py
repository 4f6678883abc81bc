"""The per-process page cache of store reads: what a cached process serves is always what an
uncached one reads from the database, after every kind of catalog change and across
processes; a repeated read costs one small statement; the memory its entries hold stays bounded."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest

from tests.catalog.conftest import product_body
from tests.catalog.test_store_api import stock
from tests.catalog.test_store_fresh import Statements
from toolbox_core.admin.auth import create_key
from toolbox_core.catalog import reads
from toolbox_core.catalog.cache import Entry, PageCache, Rendering, etag_of, held_bytes, page_cache
from toolbox_core.kernel import Toolbox

READS = [("list", None, "ru"), ("list", None, "uz"), ("list", "price_asc", "ru"), ("detail", "drill-x18", "ru"),
         ("detail", "drill-x18", "uz"), ("detail", "saw", "ru"), ("search", "дрель", "ru"), ("search", "пила", "ru"),
         ("search", "TB-DR18", "ru")]


def read(toolbox: Any, kind: str, arg: str | None, locale: str) -> str | None:
    from toolbox_core.errors import NotFound

    if kind == "list":
        return reads.list_products(toolbox, reads.ProductQuery(locale=locale, limit=2, sort=arg))
    if kind == "search":
        return reads.list_products(toolbox, reads.ProductQuery(locale=locale, limit=2, q=arg))
    try:
        return reads.get_product(toolbox, arg, locale)
    except NotFound:
        return None


def uncached(toolbox: Any) -> Toolbox:
    """Another process on the same database (its own, empty, page cache)."""
    return Toolbox.create(toolbox.settings)


def check_against_database(cached: Any, toolbox: Any) -> None:
    """Every read of ``cached`` (twice: filled, then hit) equals a fresh process's read."""
    fresh = uncached(toolbox)
    try:
        for args in READS:
            expected = read(fresh, *args)
            assert read(cached, *args) == expected, args
            assert read(cached, *args) == expected, args
    finally:
        fresh.close()


def change_everything(client: Any, toolbox: Any, headers: dict[str, str], check: Any) -> None:
    """Each kind of change a shopper can see, with ``check()`` after each one."""
    drill = client.post("/admin/products", json=product_body(), headers=headers).json()
    client.post("/admin/products", json=product_body("saw", sku="SAW", price=50_000_00), headers=headers)
    check()
    variant = drill["variants"][0]["id"]
    assert client.patch(f"/admin/variants/{variant}", json={"price": 10_000_00}, headers=headers).status_code == 200
    check()
    stock(toolbox, "TB-DR18", 5)  # stock is never cached: no version change needed
    check()
    text = {"title": "Дрель новая", "description": "Описание"}
    assert client.put(f"/admin/products/{drill['id']}/translations/uz", json=text, headers=headers).status_code == 200
    check()
    cat = {"handle": "drills", "translations": {"ru": {"name": "Дрели"}}}
    assert client.post("/admin/categories", json=cat, headers=headers).status_code == 201
    assert client.patch(f"/admin/products/{drill['id']}", json={"categories": ["drills"]}, headers=headers).status_code == 200
    check()
    rename = {"translations": {"ru": {"name": "Шуруповёрты"}}}
    assert client.patch("/admin/categories/drills", json=rename, headers=headers).status_code == 200
    check()
    extra = {"sku": "TB-DR18-2", "price": 20_000_00}
    assert client.post(f"/admin/products/{drill['id']}/variants", json=extra, headers=headers).status_code == 201
    check()
    assert client.patch("/admin/products/saw", json={"status": "draft"}, headers=headers).status_code == 200
    check()
    assert client.patch("/admin/products/saw", json={"status": "published", "handle": "saw"}, headers=headers).status_code == 200
    check()
    assert client.delete(f"/admin/products/{drill['id']}", headers=headers).status_code == 204
    check()


def test_cached_reads_equal_the_database_after_every_change(client, toolbox, admin):
    change_everything(client, toolbox, admin, lambda: check_against_database(toolbox, toolbox))
    assert len(page_cache(toolbox)) > 0


def test_a_write_in_one_process_is_seen_by_another_process_cache(client, toolbox, admin):
    other = uncached(toolbox)  # a second API process with its own cache, filled before each change
    try:
        def check() -> None:
            check_against_database(other, toolbox)

        change_everything(client, toolbox, admin, check)
    finally:
        other.close()


@pytest.mark.postgres
def test_cached_reads_equal_the_database_on_postgresql(make_toolbox, make_client):
    toolbox = make_toolbox(database="postgres")
    client = make_client(toolbox)
    _, plain = create_key(toolbox, "pg", ["catalog:write"])
    change_everything(client, toolbox, {"Authorization": f"Bearer {plain}"}, lambda: check_against_database(toolbox, toolbox))


def test_a_repeated_read_is_one_statement_and_reuses_the_rendering(client, toolbox, make_product):
    make_product()
    with Statements(toolbox) as statements:
        first = read(toolbox, "list", None, "ru")
        statements.clear()
        assert read(toolbox, "list", None, "ru") == first
        assert len(statements) == 1 and "catalog_counters" in statements[0] and "product_documents" not in statements[0]
        statements.clear()
        detail = read(toolbox, "detail", "drill-x18", "ru")
        statements.clear()
        assert read(toolbox, "detail", "drill-x18", "ru") == detail
        assert len(statements) == 1 and "product_documents" not in statements[0]


#: A stored document as the read model writes it (Cyrillic text: two bytes a character in memory).
DOC = ('{"id":"prod_%(n)s","handle":"drill-%(n)s","title":"Дрель-шуруповёрт аккумуляторная","description":'
       '"Описание дрели: 18 В, два аккумулятора, кейс","variants":[{"id":"var_%(n)s","sku":"TB-%(n)s","price":125000000}],'
       '"images":[{"url":"tbx-media://products/%(n)s.webp"}]}')


def page_entry(page: int, docs: int = 5) -> Entry:
    """An entry as a cached list page holds it: its documents and their rendering (items and body)."""
    pairs = [(f"prod_{page:06d}{i:020d}", DOC % {"n": f"{page:06d}{i:020d}"}) for i in range(docs)]
    items = ",".join(doc.replace("tbx-media://", "https://cdn.example.uz/media/") for _, doc in pairs)
    body = ('{"items":[' + items + '],"total":1000,"limit":5,"offset":0}').encode()
    entry = Entry(1, pairs, 1000)
    stock = {pid: f"var_{pid[5:]}:3" for pid, _ in pairs}
    entry.checked(Rendering(stock, "https://cdn.example.uz/media/", items, body, etag_of(body)), 0.0, 0)
    return entry


def test_the_cache_is_bounded_by_the_bytes_its_entries_hold():
    bound = 200_000
    cache = PageCache(max_bytes=bound, max_entry_bytes=bound // 4)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for page in range(100):  # several times the bound
            cache.put(("list", page), page_entry(page))
            assert cache.bytes <= bound
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - start  # what the kept entries hold
    finally:
        tracemalloc.stop()
    kept = [page for page in range(100) if ("list", page) in cache]
    assert 0 < len(kept) < 100 and kept == list(range(100 - len(kept), 100))  # the oldest went first
    assert held <= cache.bytes <= bound  # the count is never under what is held
    assert cache.bytes == sum(held_bytes(entry) for entry in cache._entries.values())


def test_the_cache_counts_an_entry_again_when_its_rendering_is_replaced(client, toolbox, make_product, later):
    make_product()
    reads.serve_product(toolbox, "drill-x18", "ru")
    cache = page_cache(toolbox)
    (entry,) = cache._entries.values()
    stock(toolbox, "TB-DR18", 123_456_789)  # a longer rendering
    later()
    reads.serve_product(toolbox, "drill-x18", "ru")
    assert b'"available":123456789' in entry.rendered.body
    assert cache.bytes == entry.size == held_bytes(entry)


def test_a_page_larger_than_an_entry_may_be_is_served_but_not_kept():
    cache = PageCache(max_bytes=200_000, max_entry_bytes=10_000)
    cache.put(("big",), page_entry(1, docs=50))
    assert cache.get(("big",)) is None and cache.bytes == 0

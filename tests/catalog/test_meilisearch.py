"""Meilisearch backend against the fake server in tests/fakes/meilisearch.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.catalog.conftest import product_body
from tests.fakes.meilisearch import FakeMeilisearch
from toolbox_core.app import create_app
from toolbox_core.catalog import schemas as s
from toolbox_core.catalog.search import get_search
from toolbox_core.catalog.search.meili import (
    INDEX_SETTINGS,
    MeiliSearch,
    reindex_meilisearch,
    sync_product_event,
)
from toolbox_core.catalog.service import Catalog
from toolbox_core.config import SearchSettings
from toolbox_core.events.types import Event
from toolbox_core.kernel import Toolbox


@pytest.fixture
def meili():
    with FakeMeilisearch(api_key="master-key") as fake:
        yield fake


@pytest.fixture
def mtoolbox(settings, meili):
    search = SearchSettings(meilisearch_url=meili.url, meilisearch_api_key="master-key")
    tb = Toolbox.create(settings.model_copy(update={"search": search}))
    yield tb
    tb.close()


def create(toolbox, handle, sku, ru, uz, status="published", price=100_000_00) -> str:
    return Catalog(toolbox).create_product(s.ProductIn.model_validate(product_body(handle, sku=sku, ru=ru, uz=uz, status=status, price=price)))


def event(name: str, product_id: str) -> Event:
    return Event(id=f"evt_{name}_{product_id}", name=name, payload={"product_id": product_id, "handle": "", "status": ""})


def test_backend_is_meilisearch_when_configured(mtoolbox, toolbox):
    assert isinstance(get_search(mtoolbox), MeiliSearch)
    assert get_search(toolbox).name == "database"


def test_reindex_creates_index_with_settings_and_only_published_products(mtoolbox, meili):
    create(mtoolbox, "grinder", "G1", "Болгарка", "Bolgarka")
    create(mtoolbox, "draft", "D1", "Дрель черновая", "Drel", status="draft")
    sent = reindex_meilisearch(mtoolbox, get_search(mtoolbox))
    assert sent == 1
    index = meili.indexes["toolbox_products"]
    assert index.primary_key == "id"
    assert index.settings["filterableAttributes"] == INDEX_SETTINGS["filterableAttributes"]
    assert index.settings["sortableAttributes"] == ["price_min", "created_at"]
    (doc,) = index.documents.values()
    assert doc["title_ru"] == "Болгарка" and doc["title_uz"] == "Bolgarka" and doc["text_latin"]
    assert all(t["status"] == "succeeded" for t in meili.tasks.values())
    assert reindex_meilisearch(mtoolbox, get_search(mtoolbox)) == 1  # idempotent


def test_subscriber_keeps_the_index_in_sync(mtoolbox, meili):
    backend = get_search(mtoolbox)
    backend.ensure_index()
    pid = create(mtoolbox, "drill", "D1", "Дрель", "Drel", status="draft")
    sync_product_event(event("product.created", pid), mtoolbox)
    assert meili.indexes["toolbox_products"].documents == {}
    Catalog(mtoolbox).update_product(pid, s.ProductPatch(status="published"))
    sync_product_event(event("product.updated", pid), mtoolbox)
    sync_product_event(event("product.updated", pid), mtoolbox)  # redelivery is harmless
    assert list(meili.indexes["toolbox_products"].documents) == [pid]
    Catalog(mtoolbox).delete_product(pid)
    sync_product_event(event("product.deleted", pid), mtoolbox)
    assert meili.indexes["toolbox_products"].documents == {}


def test_store_search_goes_through_meilisearch_with_typos_and_both_scripts(mtoolbox, meili):
    create(mtoolbox, "grinder", "G1", "Угловая шлифмашина болгарка", "Burchak silliqlash mashinasi")
    create(mtoolbox, "tape", "T1", "Рулетка измерительная", "O‘lchov lentasi")
    reindex_meilisearch(mtoolbox, get_search(mtoolbox))
    with TestClient(create_app(toolbox=mtoolbox)) as client:
        def handles(q):
            return [i["handle"] for i in client.get("/store/products", params={"q": q}).json()["items"]]

        assert handles("болгарка") == ["grinder"]
        assert handles("bolgarka") == ["grinder"]       # Latin query, Cyrillic title
        assert handles("bolgarke") == ["grinder"]       # one typo
        assert handles("ўлчов") == ["tape"]             # Uzbek Cyrillic query, Latin title
        assert handles("nothing-like-it") == []
    assert ("POST", "/indexes/toolbox_products/search") in meili.requests


def test_meilisearch_documents_and_queries_fold_yo_to_ye(mtoolbox, meili):
    create(mtoolbox, "screwdriver", "S1", "Отвёртка крестовая", "Krestli otvyortka")
    create(mtoolbox, "screwdriver-flat", "S2", "Отвертка плоская", "Yassi otvertka")
    reindex_meilisearch(mtoolbox, get_search(mtoolbox))
    docs = meili.indexes["toolbox_products"].documents.values()
    assert all("otvertka" in d["text_latin"].split() and "отвертка" in d["text_cyrillic"].split() for d in docs)
    with TestClient(create_app(toolbox=mtoolbox)) as client:
        for q in ("отвертка", "отвёртка", "otvertka", "otvyortka"):
            found = sorted(i["handle"] for i in client.get("/store/products", params={"q": q}).json()["items"])
            assert found == ["screwdriver", "screwdriver-flat"], q


def test_query_with_filters_and_sort(mtoolbox, meili):
    create(mtoolbox, "cheap-drill", "C1", "Дрель простая", "Oddiy drel", price=50_000_00)
    create(mtoolbox, "pro-drill", "P1", "Дрель профессиональная", "Professional drel", price=150_000_00)
    backend = get_search(mtoolbox)
    reindex_meilisearch(mtoolbox, backend)
    ids = lambda res: [h["id"] for h in res["hits"]]  # noqa: E731
    by_price = backend.query("drel", sort=["price_min:desc"])
    cheap_first = backend.query("drel", sort=["price_min:asc"])
    assert ids(by_price) == list(reversed(ids(cheap_first))) and len(ids(by_price)) == 2
    only_cheap = backend.query("drel", filter="price_min <= 6000000")
    assert len(only_cheap["hits"]) == 1 and only_cheap["hits"][0]["id"] == ids(cheap_first)[0]
    from meilisearch.errors import MeilisearchApiError

    with pytest.raises(MeilisearchApiError) as err:
        backend.query("drel", sort=["handle:asc"])
    assert err.value.code == "invalid_search_sort"


def test_wrong_api_key_is_refused(settings, meili):
    from meilisearch.errors import MeilisearchApiError

    search = SearchSettings(meilisearch_url=meili.url, meilisearch_api_key="wrong")
    with pytest.raises(MeilisearchApiError) as err:
        MeiliSearch(settings.model_copy(update={"search": search})).ensure_index()
    assert err.value.code == "invalid_api_key"


def test_hook_event_types_declares_every_product_event_the_catalog_emits():
    from toolbox_core.catalog import plugin

    declared = {t.name: t for t in plugin.event_types()}
    assert set(declared) == {"product.created", "product.updated", "product.deleted"}
    assert all(set(t.payload) == {"product_id", "handle", "status"} for t in declared.values())


def test_hook_event_subscribers_syncs_meilisearch_only_when_configured(mtoolbox, toolbox):
    from toolbox_core.catalog import plugin

    (subscriber,) = plugin.event_subscribers(mtoolbox)
    assert subscriber.handler is sync_product_event and subscriber.matches("product.deleted")
    assert plugin.event_subscribers(toolbox) == []

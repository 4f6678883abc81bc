"""Database search: typo tolerant, Russian and Uzbek, Cyrillic and Latin, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.catalog.conftest import product_body
from toolbox_core.admin.auth import create_key
from toolbox_core.app import create_app
from toolbox_core.catalog.search.text import normalize, to_cyrillic
from toolbox_core.config import Settings
from toolbox_core.kernel import Toolbox

CATALOG = [
    ("drill", "Дрель-шуруповёрт аккумуляторная", "Akkumulyatorli drel-shurupovyort", "published"),
    ("grinder", "Угловая шлифмашина (болгарка)", "Burchak silliqlash mashinasi", "published"),
    ("tape", "Рулетка измерительная 5 м", "O‘lchov lentasi 5 m", "published"),
    ("hammer", "Молоток слесарный", "Chilangar bolg‘asi", "published"),
    ("secret-drill", "Дрель ударная (черновик)", "Zarbali drel", "draft"),
    ("screwdriver", "Отвёртка крестовая", "Krestli otvyortka", "published"),
    ("screwdriver-flat", "Отвертка плоская", "Yassi otvertka", "published"),
]
SCREWDRIVERS = ["screwdriver", "screwdriver-flat"]
BARCODE = "4780012345678"


def seed(client, headers) -> None:
    for i, (handle, ru, uz, status) in enumerate(CATALOG):
        response = client.post("/admin/products", json=product_body(handle, sku=f"SKU-{i}", ru=ru, uz=uz, status=status), headers=headers)
        assert response.status_code == 201, response.text
    # A code-only product: its SKU and barcode share words with nothing else.
    body = product_body("laser-level", sku="TB-LL360", ru="Лазерный уровень", uz="Lazer daraja")
    body["variants"][0]["barcode"] = BARCODE
    assert client.post("/admin/products", json=body, headers=headers).status_code == 201


def handles(client, q: str) -> list[str]:
    response = client.get("/store/products", params={"q": q})
    assert response.status_code == 200, response.text
    return [i["handle"] for i in response.json()["items"]]


def check_search(client) -> None:
    assert handles(client, "дрель") == ["drill"]
    assert handles(client, "drel") == ["drill"]                 # Latin query, Cyrillic text
    assert handles(client, "дрэль") == ["drill"]                # typo
    assert handles(client, "shurupovert") == ["drill"]          # typo + transliteration
    assert handles(client, "болгарка") == ["grinder"]
    assert handles(client, "bolgarka") == ["grinder"]
    assert handles(client, "silliqlash") == ["grinder"]         # Uzbek Latin
    assert handles(client, "силлиқлаш") == ["grinder"]          # Uzbek Cyrillic, Latin text
    assert handles(client, "olchov") == ["tape"]                # o‘ without the mark
    assert handles(client, "ўлчов лентаси") == ["tape"]
    assert handles(client, "молотк") == ["hammer"]              # prefix
    assert handles(client, "xyzzyqq") == []
    assert "secret-drill" not in handles(client, "zarbali")     # drafts never found
    # ё and е are one letter, in Cyrillic and in its Latin spellings, on both sides.
    for q in ("отвёртка", "отвертка", "otvyortka", "otvertka", "ОТВЁРТКА"):
        assert sorted(handles(client, q)) == SCREWDRIVERS, q
    # Codes: an exact barcode or SKU (any case) finds its product, first.
    assert handles(client, BARCODE) == ["laser-level"]
    assert handles(client, "TB-LL360")[0] == "laser-level"
    assert handles(client, "tb-ll360")[0] == "laser-level"
    assert handles(client, "SKU-1")[0] == "grinder"
    assert "secret-drill" not in handles(client, "SKU-4")       # a draft's code neither
    # No query and a blank one are the same: the plain list.
    everything = handles_of(client.get("/store/products"))
    assert handles_of(client.get("/store/products?q=")) == everything
    assert handles_of(client.get("/store/products?q=%20%20")) == everything
    assert len(everything) == 7
    check_search_pages(client)


def check_search_pages(client) -> None:
    """A search page is one slice of the whole ranking under each sort, with the full total;
    a page past the end is empty and still counts every match; a filter narrows both."""
    q = "otvertka"
    for sort in ("relevance", "newest", "price_asc", "price_desc"):
        whole = client.get("/store/products", params={"q": q, "sort": sort}).json()
        assert whole["total"] == 2 and sorted(i["handle"] for i in whole["items"]) == SCREWDRIVERS
        pages = [client.get("/store/products", params={"q": q, "sort": sort, "limit": 1, "offset": n}).json() for n in (0, 1)]
        assert [p["total"] for p in pages] == [2, 2]
        assert [p["items"][0]["handle"] for p in pages] == [i["handle"] for i in whole["items"]], sort
    assert client.get("/store/products", params={"q": q, "offset": 5}).json() == {"items": [], "total": 2, "limit": 20, "offset": 5}
    assert client.get("/store/products", params={"q": q, "price_max": 1}).json()["total"] == 0
    newest = client.get("/store/products", params={"q": q, "sort": "newest"}).json()["items"]
    assert [i["handle"] for i in newest] == ["screwdriver-flat", "screwdriver"]  # created last first


def handles_of(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [i["handle"] for i in response.json()["items"]]


def test_normalize_meets_cyrillic_and_latin_uzbek():
    assert normalize("Ўлчов лентаси") == normalize("O‘lchov lentasi") == normalize("Oʻlchov LENTASI")
    assert normalize("Дрель-шуруповёрт") == "drel shurupovert"


def test_normalize_folds_yo_to_ye_in_cyrillic_and_latin():
    assert normalize("Отвёртка") == normalize("отвертка") == normalize("otvyortka") == normalize("OTVERTKA") == "otvertka"
    assert normalize("ёмкость") == normalize("емкость")
    assert normalize("Shurupovyort") == normalize("шуруповерт")
    # Word-initial "yo" is Uzbek, not a ё: kept.
    assert normalize("yo‘l yoz") == "yol yoz"
    assert to_cyrillic("drel") == "дрел"


def test_search_on_sqlite_fts5(client, admin):
    seed(client, admin)
    check_search(client)


def test_search_combines_with_filters_and_total(client, admin):
    seed(client, admin)
    body = client.get("/store/products", params={"q": "drel", "price_max": 1}).json()
    assert body == {"items": [], "total": 0, "limit": 20, "offset": 0}


@pytest.mark.postgres
def test_search_on_postgresql_trigram(pg_url, clean_env, tmp_path):
    settings = Settings(database_url=pg_url, plugins=[], storage={"backend": "local", "local_path": str(tmp_path / "media")})
    toolbox = Toolbox.create(settings)
    toolbox.migrate()  # creates pg_trgm and the trigram index (idempotent)
    try:
        _, plain = create_key(toolbox, "pg", ["catalog:write"])
        with TestClient(create_app(toolbox=toolbox)) as client:
            seed(client, {"Authorization": f"Bearer {plain}"})
            check_search(client)
    finally:
        toolbox.close()


def test_autogenerate_ignores_search_objects(toolbox):
    from toolbox_core.db.migrate import pending_model_changes

    toolbox.migrate()
    assert pending_model_changes(toolbox.db.engine) == []


def test_migration_folds_the_search_text_of_existing_products(toolbox):
    """A database indexed before the ё fold finds "отвертка" after `toolbox migrate`, no reindex.

    In-process (no app running: its embedded job threads would hold SQLite locks the DDL needs).
    """
    import json

    from alembic import command
    from sqlalchemy import func, update

    from toolbox_core.catalog import reads
    from toolbox_core.catalog import schemas as s
    from toolbox_core.catalog.models import SearchEntry
    from toolbox_core.catalog.service import Catalog
    from toolbox_core.db.migrate import alembic_config

    for i, (handle, ru, uz, status) in enumerate(CATALOG):
        Catalog(toolbox).create_product(s.ProductIn.model_validate(product_body(handle, sku=f"SKU-{i}", ru=ru, uz=uz, status=status)))

    def found(q: str) -> list[str]:
        page = json.loads(reads.list_products(toolbox, reads.ProductQuery(locale="ru", q=q)))
        return sorted(item["handle"] for item in page["items"])

    engine = toolbox.db.engine
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002_hardening")
    with toolbox.db.transaction() as session:  # the text as the older normalization wrote it
        old = func.replace(func.replace(SearchEntry.text, "otvertka", "otvyortka"), "shurupovert", "shurupovyort")
        session.execute(update(SearchEntry).values(text=func.trim(old.op("||")(" yoz"))))
    assert found("отвертка") == []                            # the bug: ё and е were two letters
    toolbox.migrate()
    assert found("отвертка") == SCREWDRIVERS
    assert found("шуруповерт") == ["drill"]
    assert len(found("yoz")) == 6                             # word-initial yo kept (drafts hidden)


@pytest.mark.postgres
def test_windowed_candidates_match_the_index_path_on_postgresql(pg_url, clean_env, tmp_path):
    """The candidates looked for among the newest entries first are exactly those of the plain
    GIN statement, whatever the window and candidate count (each part and fallback taken)."""
    from toolbox_core.catalog.search import database as d

    settings = Settings(database_url=pg_url, plugins=[], storage={"backend": "local", "local_path": str(tmp_path / "media")})
    toolbox = Toolbox.create(settings)
    toolbox.migrate()
    try:
        _, plain = create_key(toolbox, "pg", ["catalog:write"])
        with TestClient(create_app(toolbox=toolbox)) as client:
            seed(client, {"Authorization": f"Bearer {plain}"})
        queries = [("drel", "(drel | drelx)"), ("otvertka", "(otvertka)"), ("otvertk", "(otvertka)"),
                   ("bolgarke", "(bolgarka | bolgasi)"), ("akkumulyatorli & drel", "(akkumulyatorli) & (drel)")]
        found = set()
        with toolbox.db.engine.connect() as conn:
            for typed, tsq in queries:
                typed = " & ".join(f"{w}:*" for w in typed.split(" & "))
                for n in (1, 2, 3, 100):
                    params = {"typed": typed, "tsq": tsq, "n": n}
                    expected = [tuple(r) for r in conn.execute(d._CANDIDATES, params).all()]
                    found.update(pid for pid, _ in expected)
                    for window in (0, 1, 2, 3, 5, 100):
                        rows = conn.execute(d._FAST_CANDIDATES, {**params, "window": window}).all()
                        assert d._candidates(rows, n) == expected, (typed, tsq, n, window)
        assert len(found) >= 4  # typed and typo-only matches, several per query
    finally:
        toolbox.close()

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
]


def seed(client, headers) -> None:
    for i, (handle, ru, uz, status) in enumerate(CATALOG):
        response = client.post("/admin/products", json=product_body(handle, sku=f"SKU-{i}", ru=ru, uz=uz, status=status), headers=headers)
        assert response.status_code == 201, response.text


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


def test_normalize_meets_cyrillic_and_latin_uzbek():
    assert normalize("Ўлчов лентаси") == normalize("O‘lchov lentasi") == normalize("Oʻlchov LENTASI")
    assert normalize("Дрель-шуруповёрт") == "drel shurupovyort"
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

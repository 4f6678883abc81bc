"""Demo catalog, bulk import with a per-row error report, export round trip, CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.catalog.conftest import product_body
from toolbox_core.catalog.demo import load_demo_if_empty
from toolbox_core.catalog.transfer import (
    export_catalog,
    export_csv,
    import_catalog,
    parse_csv,
    parse_json,
)


def test_demo_catalog_loads_once_in_ru_and_uz_with_stock(client, toolbox):
    created = load_demo_if_empty(toolbox)
    assert created >= 20
    assert load_demo_if_empty(toolbox) == 0
    body = client.get("/store/products?limit=100&locale=uz").json()
    assert body["total"] == created
    drill = client.get("/store/products/tb-cd18-drill?locale=uz").json()
    assert drill["title"].startswith("Toolbox CD18")
    assert drill["variants"][0]["price"] == 890_000_00 and drill["variants"][0]["available"] == 14
    assert drill["variants"][0]["mxik_code"] and drill["variants"][0]["vat_percent"] == 12
    assert any(not v["in_stock"] for v in drill["variants"])
    tree = client.get("/store/categories?locale=ru").json()["categories"]
    assert {c["handle"] for c in tree} == {"power-tools", "hand-tools", "consumables"}
    assert client.get("/store/products?category=power-tools").json()["total"] >= 8
    assert client.get("/store/products", params={"q": "болгарка"}).json()["items"][0]["handle"].startswith("tb-ag")


def test_import_keeps_good_rows_and_reports_bad_ones(toolbox):
    good = product_body("good-one", sku="G1")
    negative = product_body("negative", sku="N1", price=-5)
    dup_sku = product_body("dup-sku", sku="G1")
    not_object = "oops"
    parsed = parse_json(json.dumps({"products": [good, negative, dup_sku, not_object, product_body("good-two", sku="G2")]}))
    report = import_catalog(toolbox, parsed)
    assert report.created == 2
    failed = {(e.row, e.ref): e.message for e in report.failed}
    assert set(failed) == {(2, "negative"), (3, "dup-sku"), (4, "?")}
    assert "price" in failed[(2, "negative")]
    assert "G1" in failed[(3, "dup-sku")]
    handles = {p["handle"] for p in export_catalog(toolbox)["products"]}
    assert handles == {"good-one", "good-two"}


def test_csv_export_and_import_round_trip(toolbox, tmp_path, sqlite_url):
    from toolbox_core.kernel import Toolbox

    load_demo_if_empty(toolbox)
    data = export_catalog(toolbox)
    text = export_csv(data)
    assert text.splitlines()[0].startswith("handle,status,title_ru")
    other = Toolbox.create(toolbox.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'other.db'}"}))
    other.migrate()
    try:
        parsed_json = parse_json(json.dumps({"categories": data["categories"], "collections": data["collections"], "products": []}))
        import_catalog(other, parsed_json)
        report = import_catalog(other, parse_csv(text))
        assert report.failed == [] and report.created == len(data["products"])
        again = export_catalog(other)
        assert [p["handle"] for p in again["products"]] == [p["handle"] for p in data["products"]]
        assert again["products"][0]["variants"][0]["price"] == data["products"][0]["variants"][0]["price"]
    finally:
        other.close()


def test_csv_with_bad_price_reports_the_line(toolbox):
    csv_text = "handle,sku,price,title_ru\nok,S1,1000,Дрель\nbad,S2,abc,Болгарка\n"
    report = import_catalog(toolbox, parse_csv(csv_text))
    assert report.created == 1
    assert [(e.row, e.ref) for e in report.failed] == [(3, "bad")]


def cli(args, env):
    from toolbox_core.cli.main import _register_plugin_commands
    from toolbox_core.cli.main import cli as app

    _register_plugin_commands()
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def test_cli_import_export_demo_and_keys(settings, tmp_path):
    env = {"TOOLBOX_DATABASE_URL": settings.database_url, "TOOLBOX_STORAGE__LOCAL_PATH": str(tmp_path / "media")}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([product_body("a", sku="A"), product_body("b", sku="A")]))
    result = cli(["catalog", "import", str(bad), "--errors", str(tmp_path / "errors.json")], env)
    assert result.exit_code == 2, result.output
    assert "1 row(s) failed" in result.output
    assert json.loads((tmp_path / "errors.json").read_text())["failed"][0]["ref"] == "b"
    out = tmp_path / "out.csv"
    assert cli(["catalog", "export", str(out)], env).exit_code == 0
    assert "a,published" in out.read_text()
    assert "nothing loaded" in cli(["demo"], env).output
    reindexed = cli(["search", "reindex"], env)
    assert reindexed.exit_code == 0 and "reindexed 1 products (database search)" in reindexed.output

    created = cli(["admin", "keys", "create", "ci", "--scope", "catalog:read"], env)
    assert created.exit_code == 0, created.output
    plain = created.output.strip().splitlines()[-1]
    assert plain.startswith("tbx_admin_")
    listed = cli(["admin", "keys", "list"], env).output
    assert "ci" in listed and plain not in listed
    key_id = created.output.split("created key ")[1].split()[0]
    assert cli(["admin", "keys", "revoke", key_id], env).exit_code == 0
    assert cli(["admin", "keys", "revoke", "nope"], env).exit_code == 1

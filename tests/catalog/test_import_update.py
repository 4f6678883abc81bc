"""Catalog import: update mode, Excel-style CSV files, JSON of the wrong shape, options in CSV."""

from __future__ import annotations

import codecs
import json

import pytest

from tests.catalog.conftest import product_body
from toolbox_core.catalog.transfer import (
    export_catalog,
    export_csv,
    import_catalog,
    parse_csv,
    parse_json,
)
from toolbox_core.errors import InvalidInput

OPTIONS = [
    {"code": "size", "translations": {"ru": "Размер", "uz": "O'lcham"},
     "values": [{"code": "s", "translations": {"ru": "S"}}, {"code": "m", "translations": {"ru": "M"}}]},
]


def shirt(**extra):
    return product_body("work-shirt", sku="SH-S", options=OPTIONS, variants=[
        {"sku": "SH-S", "price": 100_00, "options": {"size": "s"}},
        {"sku": "SH-M", "price": 110_00, "options": {"size": "m"}},
    ], **extra)


def products(toolbox) -> dict[str, dict]:
    return {p["handle"]: p for p in export_catalog(toolbox)["products"]}


def test_reimporting_an_edited_export_updates_products_in_update_mode(toolbox):
    import_catalog(toolbox, parse_json(json.dumps({"products": [shirt(), product_body("drill", sku="DR-1")]})))
    edited = export_catalog(toolbox)
    item = next(p for p in edited["products"] if p["handle"] == "work-shirt")
    item["translations"]["ru"]["title"] = "Рубашка рабочая"
    item["variants"][0]["price"] = 95_00
    item["variants"].append({"sku": "SH-L", "price": 120_00, "options": {"size": "l"}})
    item["options"][0]["values"].append({"code": "l", "translations": {"ru": "L"}})
    text = json.dumps(edited)

    refused = import_catalog(toolbox, parse_json(text))
    assert refused.created == 0 and {e.ref for e in refused.failed} == {"work-shirt", "drill"}

    report = import_catalog(toolbox, parse_json(text), update=True)
    assert (report.created, report.updated, report.failed) == (0, 2, [])
    after = products(toolbox)["work-shirt"]
    assert after["translations"]["ru"]["title"] == "Рубашка рабочая"
    assert {v["sku"]: (v["price"], v["options"]) for v in after["variants"]} == {
        "SH-S": (95_00, {"size": "s"}), "SH-M": (110_00, {"size": "m"}), "SH-L": (120_00, {"size": "l"}),
    }
    assert [v["code"] for v in after["options"][0]["values"]] == ["s", "m", "l"]


def test_update_mode_creates_new_products_and_refuses_a_sku_of_another_product(toolbox):
    import_catalog(toolbox, parse_json(json.dumps([product_body("drill", sku="DR-1")])))
    report = import_catalog(toolbox, parse_json(json.dumps([
        product_body("grinder", sku="GR-1"), product_body("saw", sku="DR-1"),
    ])), update=True)
    assert report.created == 1
    assert [(e.ref, "DR-1" in e.message) for e in report.failed] == [("saw", True)]


def test_csv_export_keeps_options_so_export_then_import_round_trips(toolbox, tmp_path):
    from toolbox_core.kernel import Toolbox

    import_catalog(toolbox, parse_json(json.dumps([shirt()])))
    text = export_csv(export_catalog(toolbox))
    other = Toolbox.create(toolbox.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'o.db'}"}))
    other.migrate()
    try:
        report = import_catalog(other, parse_csv(text))
        assert report.failed == [] and report.created == 1
        before, after = products(toolbox)["work-shirt"], products(other)["work-shirt"]
        assert after["options"] == before["options"]
        assert [(v["sku"], v["options"]) for v in after["variants"]] == [(v["sku"], v["options"]) for v in before["variants"]]
    finally:
        other.close()


@pytest.mark.parametrize("encode", [
    lambda text: codecs.BOM_UTF8 + text.replace(",", ";").encode(),  # Excel, Russian locale: ';' and a BOM
    lambda text: text.replace(",", "\t").encode("utf-16"),  # Excel "Unicode text"
    lambda text: text.encode(),
], ids=["semicolon-bom", "utf16-tab", "plain"])
def test_excel_style_csv_files_are_read(toolbox, encode):
    text = "handle,sku,price,title_ru\ndrill,DR-1,1000,Дрель\n"
    report = import_catalog(toolbox, parse_csv(encode(text)))
    assert (report.created, report.failed) == (1, [])
    assert products(toolbox)["drill"]["translations"]["ru"]["title"] == "Дрель"


@pytest.mark.parametrize("doc", [
    {"items": [product_body()]}, {"products": {"handle": "x"}}, {}, 42, "products",
])
def test_a_json_file_of_the_wrong_shape_is_an_error_not_zero_products(doc):
    with pytest.raises(InvalidInput) as refused:
        parse_json(json.dumps(doc))
    assert refused.value.code == "invalid_file"


@pytest.mark.parametrize("data", [codecs.BOM_UTF16_LE + b"h\x00a", b"handle,sku\n\xff\xfe\xfa"])
def test_a_csv_file_that_does_not_decode_is_an_error_not_a_traceback(data):
    with pytest.raises(InvalidInput) as refused:
        parse_csv(data)
    assert refused.value.code == "invalid_file"

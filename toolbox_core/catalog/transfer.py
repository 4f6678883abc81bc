"""Bulk import and export of the catalog (JSON or CSV), row by row with an error report.

JSON: ``{"categories": [...], "collections": [...], "products": [...]}`` where each item has
the shape of the admin API's create bodies. CSV: one line per variant (columns in
:data:`CSV_COLUMNS`); lines with the same ``handle`` form one product; ``options`` holds the
product's options as JSON (first line of the product) and ``variant_options`` the variant's
choices as ``size=m|color=red``. Comma-, semicolon- (Excel in a Russian locale) and
tab-separated files are recognised, with or without a byte-order mark (UTF-8 or UTF-16).
Each product is imported in its own savepoint: a bad row is reported and skipped, the good ones
are kept. In update mode a product whose handle exists is updated (variants matched by SKU)
instead of being refused as a duplicate, so re-importing an edited export works.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from toolbox_core.catalog import models as m
from toolbox_core.catalog import schemas as s
from toolbox_core.catalog.admin_views import category_view, collection_view, product_views
from toolbox_core.catalog.service import Catalog
from toolbox_core.catalog.storage import get_storage
from toolbox_core.errors import InvalidInput, ToolboxError

CSV_COLUMNS = [
    "handle", "status", "title_ru", "title_uz", "description_ru", "description_uz", "categories",
    "collections", "sku", "price", "compare_at_price", "barcode", "weight_grams", "mxik_code",
    "package_code", "vat_percent", "variant_title_ru", "variant_title_uz", "options", "variant_options",
]  # fmt: skip
JSON_KEYS = ("categories", "collections", "products")


@dataclass
class RowError:
    row: int
    ref: str
    message: str
    details: Any = None


@dataclass
class ImportReport:
    created: int = 0
    failed: list[RowError] = field(default_factory=list)
    categories: int = 0
    collections: int = 0
    #: Products updated in place (update mode).
    updated: int = 0
    #: Categories and collections that already existed (update mode leaves them as they are).
    kept: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created, "updated": self.updated, "categories": self.categories,
            "collections": self.collections, "kept": self.kept, "failed": [e.__dict__ for e in self.failed],
        }


def _error_message(exc: Exception) -> tuple[str, Any]:
    if isinstance(exc, ValidationError):
        errs = exc.errors()
        first = errs[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}", [{"loc": [str(p) for p in e["loc"]], "message": e["msg"]} for e in errs]
    if isinstance(exc, ToolboxError):
        return exc.message, exc.details
    return f"{type(exc).__name__}: {exc}", None


# ------------------------------------------------------------------------------ parsing


def parse_json(data: bytes | str) -> dict[str, list[tuple[int, Any]]]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", code="invalid_file") from None
    if isinstance(doc, list):
        doc = {"products": doc}
    expected = 'an object {"categories": [...], "collections": [...], "products": [...]} or a list of products'
    if not isinstance(doc, dict):
        raise InvalidInput(f"expected {expected}, got a JSON {type(doc).__name__}", code="invalid_file")
    unknown = sorted(set(doc) - set(JSON_KEYS))
    if unknown or not doc:
        raise InvalidInput(f"expected {expected}; unknown key(s): {', '.join(unknown) or 'none given'}",
                           code="invalid_file", details={"unknown_keys": unknown})
    for key in JSON_KEYS:
        if not isinstance(doc.get(key) or [], list):
            raise InvalidInput(f"{key!r} must be a list", code="invalid_file")
    return {key: list(enumerate(doc.get(key) or [], start=1)) for key in JSON_KEYS}


def _int(value: str) -> int | str | None:
    value = value.strip()
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return value  # left for validation to refuse with a clear message


def decode_text(data: bytes) -> str:
    """Text of a file from Excel or an editor: UTF-16 or UTF-8, with or without a BOM."""
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        return data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not {'UTF-16' if utf16 else 'UTF-8'} text (byte {exc.start}); "
                           "save it as CSV UTF-8", code="invalid_file") from None


def sniff_delimiter(text: str) -> str:
    """``,``, ``;`` or tab: whichever splits the header line into the most known columns."""
    header = text.split("\n", 1)[0]
    best, best_hits = ",", -1
    for delimiter in (",", ";", "\t"):
        hits = len(set(next(csv.reader([header], delimiter=delimiter), [])) & set(CSV_COLUMNS))
        if hits > best_hits:
            best, best_hits = delimiter, hits
    return best


def _variant_options(text: str, line: int) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for pair in (p.strip() for p in text.split("|") if p.strip()):
        code, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"line {line}: variant_options must look like size=m|color=red", code="invalid_file")
        chosen[code.strip()] = value.strip()
    return chosen


def parse_csv(data: bytes | str) -> dict[str, list[tuple[int, Any]]]:
    text = decode_text(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text), delimiter=sniff_delimiter(text))
    missing = {"handle", "sku", "price", "title_ru"} - set(reader.fieldnames or [])
    if missing:
        raise InvalidInput(f"CSV is missing columns: {', '.join(sorted(missing))}", code="invalid_file")
    products: dict[str, tuple[int, dict[str, Any]]] = {}
    for line, row in enumerate(reader, start=2):
        handle = (row.get("handle") or "").strip()
        if handle not in products:
            translations = {}
            for loc in ("ru", "uz"):
                if (row.get(f"title_{loc}") or "").strip():
                    translations[loc] = {"title": row[f"title_{loc}"].strip(), "description": (row.get(f"description_{loc}") or "").strip()}
            products[handle] = (line, {
                "handle": handle, "status": (row.get("status") or "draft").strip(), "translations": translations,
                "categories": [c for c in (row.get("categories") or "").split("|") if c.strip()],
                "collections": [c for c in (row.get("collections") or "").split("|") if c.strip()],
                "variants": [],
            })
            if (row.get("options") or "").strip():
                try:
                    products[handle][1]["options"] = json.loads(row["options"])
                except ValueError:
                    raise InvalidInput(f"line {line}: options is not valid JSON", code="invalid_file") from None
        variant: dict[str, Any] = {"sku": (row.get("sku") or "").strip(), "price": _int(row.get("price") or "")}
        for key in ("compare_at_price", "weight_grams", "vat_percent"):
            value = _int(row.get(key) or "")
            if value is not None:
                variant[key] = value
        for key in ("barcode", "mxik_code", "package_code"):
            if (row.get(key) or "").strip():
                variant[key] = row[key].strip()
        vt = {loc: {"title": row[f"variant_title_{loc}"].strip()} for loc in ("ru", "uz") if (row.get(f"variant_title_{loc}") or "").strip()}
        if vt:
            variant["translations"] = vt
        if (row.get("variant_options") or "").strip():
            variant["options"] = _variant_options(row["variant_options"], line)
        products[handle][1]["variants"].append(variant)
    return {"categories": [], "collections": [], "products": list(products.values())}


def parse_file(path: str | Path) -> dict[str, list[tuple[int, Any]]]:
    path = Path(path)
    data = path.read_bytes()
    return parse_csv(data) if path.suffix.lower() == ".csv" else parse_json(data)


# ------------------------------------------------------------------------------ import


def import_catalog(
    toolbox: Any, parsed: dict[str, list[tuple[int, Any]]], progress: Callable[[int], None] | None = None,
    *, extra: Callable[[Any, dict[str, Any], str], None] | None = None, update: bool = False,
) -> ImportReport:
    """Import categories, collections, then products; one savepoint per item.

    ``update``: a product whose handle exists is updated (:meth:`Catalog.upsert_product`) and
    existing categories and collections are kept as they are, instead of both being refused as
    duplicates. ``extra(session, raw_item, product_id)`` runs in the product's savepoint (the
    demo uses it to set stock levels).
    """
    catalog = Catalog(toolbox)
    report = ImportReport()
    with toolbox.db.transaction() as session:
        for kind, model, create, table in (
            ("categories", s.CategoryIn, catalog.create_category, m.Category),
            ("collections", s.CollectionIn, catalog.create_collection, m.Collection),
        ):
            for row, raw in parsed.get(kind, []):
                ref = raw.get("handle", "?") if isinstance(raw, dict) else "?"
                try:
                    data = model.model_validate(raw)
                    if update and session.scalar(select(table.id).where(table.handle == data.handle)):
                        report.kept += 1
                        if progress:
                            progress(1)
                        continue
                    with session.begin_nested():
                        create(data, session=session)
                    report.categories += kind == "categories"
                    report.collections += kind == "collections"
                except (ValidationError, ToolboxError) as exc:
                    message, details = _error_message(exc)
                    report.failed.append(RowError(row, f"{kind[:-1]} {ref}", message, details))
                if progress:
                    progress(1)
        for row, raw in parsed.get("products", []):
            ref = raw.get("handle", "?") if isinstance(raw, dict) else "?"
            try:
                item = {k: v for k, v in raw.items() if k != "stock"} if isinstance(raw, dict) else raw
                if isinstance(item, dict) and isinstance(item.get("variants"), list):
                    item["variants"] = [{k: v for k, v in var.items() if k != "stock"} if isinstance(var, dict) else var for var in item["variants"]]
                data = s.ProductIn.model_validate(item)
                with session.begin_nested():
                    if update:
                        pid, created = catalog.upsert_product(data, session=session)
                    else:
                        pid, created = catalog.create_product(data, session=session), True
                    if extra:
                        extra(session, raw, pid)
                report.created += created
                report.updated += not created
            except (ValidationError, ToolboxError) as exc:
                message, details = _error_message(exc)
                report.failed.append(RowError(row, str(ref), message, details))
            if progress:
                progress(1)
    return report


def count_items(parsed: dict[str, list[tuple[int, Any]]]) -> int:
    return sum(len(v) for v in parsed.values())


# ------------------------------------------------------------------------------ export


def export_catalog(toolbox: Any) -> dict[str, Any]:
    """Every category, collection and product (all statuses, all locales) as JSON data."""
    storage = get_storage(toolbox)
    with toolbox.db.session() as session:
        cats = session.scalars(select(m.Category).order_by(m.Category.position, m.Category.handle)).all()
        by_id = {c.id: c.handle for c in cats}
        categories = []
        for c in _parents_first(cats):
            view = category_view(c)
            categories.append({"handle": view["handle"], "parent": by_id.get(c.parent_id) if c.parent_id else None,
                               "position": view["position"], "translations": view["translations"], "metadata": view["metadata"]})
        collections = [
            {k: v for k, v in collection_view(c).items() if k != "id"}
            for c in session.scalars(select(m.Collection).order_by(m.Collection.handle))
        ]
        products = []
        all_products = session.scalars(select(m.Product).order_by(m.Product.created_at, m.Product.id)).all()
        for view in product_views(session, all_products, storage):
            products.append({
                "handle": view["handle"], "status": view["status"], "translations": view["translations"],
                "categories": view["categories"], "collections": view["collections"], "options": view["options"],
                "variants": [
                    {k: v[k] for k in ("sku", "price", "compare_at_price", "barcode", "weight_grams", "mxik_code",
                                      "package_code", "vat_percent", "translations", "options", "metadata")}
                    for v in view["variants"]
                ],
                "metadata": view["metadata"],
            })
    return {"categories": categories, "collections": collections, "products": products}


def _parents_first(cats: Iterable[m.Category]) -> list[m.Category]:
    cats = list(cats)
    done: set[str | None] = {None}
    out: list[m.Category] = []
    while len(out) < len(cats):
        progressed = False
        for c in cats:
            if c.id not in done and c.parent_id in done:
                out.append(c)
                done.add(c.id)
                progressed = True
        if not progressed:  # pragma: no cover - cycles are refused on write
            out += [c for c in cats if c.id not in done]
            break
    return out


def export_csv(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for p in data["products"]:
        t = p["translations"]
        for v in p["variants"]:
            writer.writerow({
                "handle": p["handle"], "status": p["status"],
                "title_ru": t.get("ru", {}).get("title", ""), "title_uz": t.get("uz", {}).get("title", ""),
                "description_ru": t.get("ru", {}).get("description", ""), "description_uz": t.get("uz", {}).get("description", ""),
                "categories": "|".join(p["categories"]), "collections": "|".join(p["collections"]),
                "sku": v["sku"], "price": v["price"], "compare_at_price": v["compare_at_price"] if v["compare_at_price"] is not None else "",
                "barcode": v["barcode"] or "", "weight_grams": v["weight_grams"], "mxik_code": v["mxik_code"] or "",
                "package_code": v["package_code"] or "", "vat_percent": "" if v["vat_percent"] is None else v["vat_percent"],
                "variant_title_ru": v["translations"].get("ru", {}).get("title", ""),
                "variant_title_uz": v["translations"].get("uz", {}).get("title", ""),
                "options": json.dumps(p["options"], ensure_ascii=False) if p["options"] and v is p["variants"][0] else "",
                "variant_options": "|".join(f"{code}={value}" for code, value in (v.get("options") or {}).items()),
            })
    return buf.getvalue()


# ------------------------------------------------------------------------------ CLI


def run_import_cli(toolbox: Any, file: str, errors_path: str | None, *, update: bool = False) -> int:
    """``toolbox catalog import``: a progress bar, then the per-row error report. Returns failures."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console()
    try:
        parsed = parse_file(file)
    except (OSError, InvalidInput) as exc:
        console.print(f"[bold red]error:[/] {getattr(exc, 'message', exc)}")
        return 1
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("import", total=count_items(parsed))
        report = import_catalog(toolbox, parsed, lambda n: bar.advance(task, n), update=update)
    console.print(f"created {report.created} products, updated {report.updated}, {report.categories} categories, "
                  f"{report.collections} collections" + (f", {report.kept} kept as they were" if report.kept else ""))
    if report.failed:
        table = Table("row", "item", "error", title=f"{len(report.failed)} row(s) failed")
        for e in report.failed:
            table.add_row(str(e.row), e.ref, e.message)
        console.print(table)
    if errors_path:
        Path(errors_path).write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    return len(report.failed)


def run_export_cli(toolbox: Any, file: str) -> None:
    from rich.console import Console

    data = export_catalog(toolbox)
    path = Path(file)
    if path.suffix.lower() == ".csv":
        path.write_text(export_csv(data), encoding="utf-8")
    else:
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    Console().print(f"exported {len(data['products'])} products to {path}")

"""The Toolbox demo catalog: power and hand tools in Russian and Uzbek, prices in so'm.

``toolbox demo`` and ``toolbox serve --demo`` load it into an empty store (no products yet):
categories, collections, published products with variants and fiscal codes, and stock at a
``default`` stock location. The data lives in ``catalog/demo/catalog.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolbox_core.catalog import models as m
from toolbox_core.catalog.transfer import import_catalog, parse_json
from toolbox_core.ids import new_id
from toolbox_core.inventory.models import InventoryLevel, StockLocation

DATA_FILE = Path(__file__).resolve().parent / "demo" / "catalog.json"
DEFAULT_LOCATION = "default"


def default_location(session: Session) -> StockLocation:
    """The stock location with code ``default`` (created if missing)."""
    location = session.scalar(select(StockLocation).where(StockLocation.code == DEFAULT_LOCATION))
    if location is None:
        location = StockLocation(id=new_id("sloc"), code=DEFAULT_LOCATION, name="Main warehouse")
        session.add(location)
        session.flush()
    return location


def load_demo_if_empty(toolbox: Any) -> int:
    """Load the demo catalog when the store has no products; returns how many were created."""
    with toolbox.db.session() as session:
        if session.scalar(select(m.Product.id).limit(1)) is not None:
            return 0
    parsed = parse_json(DATA_FILE.read_bytes())

    def set_stock(session: Session, raw: dict[str, Any], product_id: str) -> None:
        location = default_location(session)
        for variant in raw.get("variants", []):
            session.merge(InventoryLevel(sku=variant["sku"], location_id=location.id, stocked=int(variant.get("stock", 0)), reserved=0))

    report = import_catalog(toolbox, parsed, extra=set_stock)
    if report.failed:  # pragma: no cover - the data file is tested
        raise RuntimeError(f"demo catalog has bad rows: {report.as_dict()['failed']}")
    return report.created

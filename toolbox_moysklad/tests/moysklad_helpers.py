"""Helpers of the MoySklad plugin tests (catalog set-up, levels, events, an admin key)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from toolbox_core.api import StockLevel, apply_stock_batch


def add_catalog(toolbox: Any, skus: list[str], *, stock: int | None = None) -> None:
    """Published products with one variant per SKU (straight into the tables: a test set-up)."""
    now = datetime.now(UTC)
    products = [{"id": f"prod_{n}_{sku}"[:40], "handle": f"p-{sku.lower()}", "status": "published",
                 "metadata": "{}", "now": now} for n, sku in enumerate(skus)]
    with toolbox.db.transaction() as session:
        session.execute(text("INSERT INTO products (id, handle, status, metadata, created_at, updated_at) "
                             "VALUES (:id, :handle, :status, :metadata, :now, :now)"), products)
        session.execute(text("INSERT INTO product_translations (product_id, locale, title, description) "
                             "VALUES (:id, 'ru', :handle, '')"), products)
        session.execute(text(
            "INSERT INTO product_variants (id, product_id, sku, price, weight_grams, position, metadata, "
            "created_at, updated_at) VALUES (:vid, :id, :sku, 100000, 0, 0, :metadata, :now, :now)"),
            [p | {"vid": "var_" + p["id"][5:], "sku": sku} for p, sku in zip(products, skus, strict=True)])
        if stock is not None:
            for start in range(0, len(skus), 5000):
                apply_stock_batch(session, [StockLevel(s, stock) for s in skus[start:start + 5000]], source="setup")


def levels(toolbox: Any, skus: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """``{sku: (stocked, reserved)}`` (default location)."""
    with toolbox.db.session() as session:
        rows = session.execute(text("SELECT sku, stocked, reserved FROM inventory_levels")).all()
    found = {sku: (stocked, reserved) for sku, stocked, reserved in rows}
    return found if skus is None else {s: found.get(s) for s in skus}


def events(toolbox: Any, name: str) -> list[dict[str, Any]]:
    import json

    with toolbox.db.session() as session:
        rows = session.execute(text("SELECT payload FROM outbox_events WHERE name = :n ORDER BY occurred_at"),
                               {"n": name}).all()
    return [p if isinstance(p, dict) else json.loads(p) for (p,) in rows]


def admin_key(toolbox: Any, scope: str = "inventory:read") -> str:
    """An admin API key, made the way an operator makes one (``toolbox admin keys create``)."""
    env = {**os.environ, "TOOLBOX_DATABASE_URL": toolbox.settings.database_url, "TOOLBOX_PLUGINS": ""}
    out = subprocess.run([sys.executable, "-m", "toolbox_core.cli.main", "admin", "keys", "create", "tests",
                          "--scope", scope], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip().splitlines()[-1]

"""Test-kit helpers to put a sellable product in the store and to call the admin API.

For plugin tests, which may import only ``toolbox_core.api`` and ``toolbox_core.testing``.
"""

from __future__ import annotations

from typing import Any

from toolbox_core.admin.auth import create_key
from toolbox_core.catalog.models import Product, ProductTranslation, ProductVariant
from toolbox_core.ids import new_id
from toolbox_core.inventory.service import apply_levels
from toolbox_core.providers import StockLevel


def add_variant(toolbox: Any, *, sku: str | None = None, price: int = 1_500_000, weight_grams: int | None = 500,
                stock: int = 10, title: str = "Drill") -> str:
    """A published product with one variant and ``stock`` units; ``weight_grams=None``: no weight. Returns its id."""
    sku = sku or new_id("SKU")[-12:]
    variant_id = new_id("var")
    with toolbox.db.transaction() as session:
        product = Product(id=new_id("prod"), handle=f"p-{sku.lower()}", status="published")
        product.translations = [ProductTranslation(locale=loc, title=title) for loc in toolbox.settings.locales]
        product.variants = [ProductVariant(id=variant_id, sku=sku, price=price, weight_grams=weight_grams or 0)]
        session.add(product)
        apply_levels(session, [StockLevel(sku, stock)])
    return variant_id


def admin_headers(toolbox: Any, *scopes: str) -> dict[str, str]:
    """``Authorization`` header of a fresh admin API key with ``scopes`` (all when none)."""
    _, key = create_key(toolbox, "test-staff", list(scopes) or ["*"])
    return {"Authorization": f"Bearer {key}"}

"""Store set-up for plugin tests: a product with stock, an admin API key, the served store.

Plugins' tests use these instead of the kernel's internals::

    from toolbox_core.testing.shop import add_product, admin_headers, store_app

    variant_id = add_product(toolbox, price=1_500_000, stock=3)
    base_url = serve_fake(store_app(toolbox))
    httpx.get(f"{base_url}/admin/orders", headers=admin_headers(toolbox, "orders:read"))
"""

from __future__ import annotations

from typing import Any


def add_product(toolbox: Any, *, price: int = 1_500_000, stock: int | None = 10, sku: str | None = None,
                title: str = "Дрель", mxik_code: str | None = "00702001001000001",
                package_code: str | None = "1234", vat_percent: int | None = 12, weight_grams: int = 500) -> str:
    """A published product with one variant (ru/uz titles) and ``stock`` units; returns the variant id."""
    from toolbox_core.catalog.models import (
        Product,
        ProductTranslation,
        ProductVariant,
        VariantTranslation,
    )
    from toolbox_core.ids import new_id
    from toolbox_core.inventory.service import apply_levels
    from toolbox_core.providers import StockLevel

    sku = sku or new_id("SKU")[-12:]
    variant_id = new_id("var")
    with toolbox.db.transaction() as session:
        product = Product(id=new_id("prod"), handle=f"product-{sku.lower()}", status="published")
        product.translations = [ProductTranslation(locale="ru", title=title),
                                ProductTranslation(locale="uz", title=title)]
        variant = ProductVariant(id=variant_id, sku=sku, price=price, weight_grams=weight_grams,
                                 mxik_code=mxik_code, package_code=package_code, vat_percent=vat_percent)
        variant.translations = [VariantTranslation(locale="ru", title="18 V")]
        product.variants = [variant]
        session.add(product)
        if stock is not None:
            apply_levels(session, [StockLevel(sku, stock)])
    return variant_id


def admin_headers(toolbox: Any, *scopes: str) -> dict[str, str]:
    """``Authorization`` header of a new admin API key with ``scopes`` (all when none given)."""
    from toolbox_core.admin.auth import create_key

    _, key = create_key(toolbox, "test-staff", list(scopes) or ["*"])
    return {"Authorization": f"Bearer {key}"}


def store_app(toolbox: Any) -> Any:
    """The store's ASGI app on ``toolbox`` (serve it with ``serve_fake(store_app(toolbox))``)."""
    from toolbox_core.app import create_app

    return create_app(toolbox=toolbox)


def model_differences(toolbox: Any, tables: set[str]) -> list[object]:
    """Differences between the models and the migrated database for ``tables`` (a plugin's own)."""
    from toolbox_core.db.migrate import pending_model_changes

    return pending_model_changes(toolbox.db.engine, tables=tables)

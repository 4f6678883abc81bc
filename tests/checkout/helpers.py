"""Catalog and stock set-up shared by the cart/checkout/order tests."""

from __future__ import annotations

from typing import Any

from toolbox_core.catalog.models import (
    Product,
    ProductTranslation,
    ProductVariant,
    VariantTranslation,
)
from toolbox_core.ids import new_id
from toolbox_core.inventory.service import apply_levels
from toolbox_core.providers import StockLevel

PHONE = "+998901234567"
ADDRESS = {"region": "Toshkent", "city": "Toshkent", "district": "Yunusobod", "street": "Amir Temur 1",
           "landmark": "near the metro"}


def make_variant(toolbox: Any, *, sku: str | None = None, price: int = 1_500_000, stock: int | None = 10,
                 weight: int = 500, status: str = "published") -> str:
    """A published product with one variant (ru/uz titles) and ``stock`` units; returns the variant id."""
    sku = sku or new_id("SKU")[-12:]
    product_id, variant_id = new_id("prod"), new_id("var")
    with toolbox.db.transaction() as session:
        product = Product(id=product_id, handle=f"drill-{sku.lower()}", status=status)
        product.translations = [ProductTranslation(locale="ru", title="Дрель"),
                                ProductTranslation(locale="uz", title="Drel")]
        variant = ProductVariant(id=variant_id, sku=sku, price=price, weight_grams=weight,
                                 mxik_code="00702001001000001", package_code="1234", vat_percent=12)
        variant.translations = [VariantTranslation(locale="ru", title="18 В")]
        product.variants = [variant]
        session.add(product)
        if stock is not None:
            apply_levels(session, [StockLevel(sku, stock)])
    return variant_id


def stock_of(toolbox: Any, variant_id: str) -> tuple[int, int]:
    """(stocked, reserved) of a variant's SKU over all locations."""
    from sqlalchemy import func, select

    from toolbox_core.inventory.models import InventoryLevel

    with toolbox.db.session() as session:
        sku = session.get(ProductVariant, variant_id).sku
        row = session.execute(select(func.sum(InventoryLevel.stocked), func.sum(InventoryLevel.reserved))
                              .where(InventoryLevel.sku == sku)).one()
    return int(row[0] or 0), int(row[1] or 0)


def outbox(toolbox: Any, name: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from toolbox_core.events.models import OutboxEvent

    with toolbox.db.session() as session:
        return [e.payload for e in session.scalars(select(OutboxEvent).where(OutboxEvent.name == name)
                                                   .order_by(OutboxEvent.occurred_at))]


def ready_cart(toolbox: Any, variant_id: str, *, quantity: int = 1, provider: str = "cash_on_delivery",
               shipping: str = "flat", also: dict[str, int] | None = None) -> str:
    """A cart (through the services) with one line (and the lines ``also``: variant → quantity),
    phone, address, shipping and payment chosen."""
    from toolbox_core.cart.service import CartService

    carts = CartService(toolbox)
    cart_id = carts.create(None, "ru", PHONE)["id"]
    for variant, count in {variant_id: quantity, **(also or {})}.items():
        carts.add_line(cart_id, None, variant, count)
    carts.update(cart_id, None, {"address": dict(ADDRESS)})
    carts.select_shipping(cart_id, None, shipping, shipping)
    carts.select_payment(cart_id, None, provider)
    return cart_id


def sign_in(toolbox: Any, phone: str = PHONE) -> tuple[str, dict[str, str]]:
    """A customer with a live session; returns (customer id, Authorization header)."""
    from datetime import timedelta

    from toolbox_core.customers.models import Customer, CustomerSession
    from toolbox_core.db.base import utcnow
    from toolbox_core.security import new_token, token_hash

    customer_id, token = new_id("cus"), new_token("tbx_sess")
    with toolbox.db.transaction() as session:
        session.add(Customer(id=customer_id, phone=phone))
        session.flush()
        session.add(CustomerSession(id=new_id("sess"), token_hash=token_hash(token), customer_id=customer_id,
                                    expires_at=utcnow() + timedelta(days=1)))
    return customer_id, {"Authorization": f"Bearer {token}"}


def admin_headers(toolbox: Any, *scopes: str) -> dict[str, str]:
    from toolbox_core.admin.auth import create_key

    _, key = create_key(toolbox, "staff", list(scopes) or ["*"])
    return {"Authorization": f"Bearer {key}"}

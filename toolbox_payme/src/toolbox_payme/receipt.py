"""The fiscal receipt (``detail``) Payme prints: built from the order as it was at purchase."""

from __future__ import annotations

from typing import Any

from toolbox_core.api import OrderView

MAX_TITLE = 500


def receipt_detail(view: OrderView) -> dict[str, Any]:
    """``{"receipt_type": 0, "shipping": {...}, "items": [...]}``; amounts in tiyin.

    Each item: ``title``, ``price`` (per unit), ``count``, ``code`` (MXIK/IKPU), ``package_code``,
    ``vat_percent``, ``discount`` (whole line) and ``units`` when known. Codes a product lacks are
    left out (``toolbox doctor`` reports products without MXIK codes).
    """
    items = []
    for line in view.lines:
        item: dict[str, Any] = {"title": line.title[:MAX_TITLE], "price": line.unit_price, "count": line.quantity,
                                "code": line.mxik_code, "package_code": line.package_code,
                                "vat_percent": line.vat_percent, "discount": line.discount}
        if line.unit_code:
            item["units"] = int(line.unit_code) if line.unit_code.isdigit() else line.unit_code
        items.append({k: v for k, v in item.items() if v is not None})
    detail: dict[str, Any] = {"receipt_type": 0, "items": items}
    if view.shipping is not None and view.shipping.amount > 0:
        detail["shipping"] = {"title": view.shipping.title[:MAX_TITLE], "price": view.shipping.amount}
    return detail

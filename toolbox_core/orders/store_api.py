"""Store API: a customer's own orders; a guest's order by id plus phone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from toolbox_core.clientip import client_ip
from toolbox_core.customers.phone import normalize_phone
from toolbox_core.customers.sessions import optional_customer, require_customer
from toolbox_core.orders.service import OrderService
from toolbox_core.params import Limit, Offset


def build_router(toolbox: Any) -> APIRouter:
    router = APIRouter(prefix="/store/orders", tags=["store: orders"])
    orders = OrderService(toolbox)

    @router.get("", summary="The signed-in customer's orders, newest first")
    def my_orders(customer: str = Depends(require_customer), limit: Limit = 20,
                  offset: Offset = 0) -> dict[str, Any]:
        return orders.list(customer_id=customer, limit=limit, offset=offset)

    @router.get("/{order_id}", summary="One order by id or number: the customer's own, or a guest's with ?phone=")
    def one_order(request: Request, order_id: str = Path(max_length=40, description="ord_... id or number (1001)"),
                  phone: str | None = Query(None, max_length=32),
                  customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        return orders.get_for_shopper(order_id, customer, normalize_phone(phone) if phone else None,
                                      client_ip=client_ip(request))

    return router

"""Admin API for orders: list/filter/search, view (by id or number), cancel (refund when paid), refunds,
fulfil, deliver (by id)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from toolbox_core.admin.auth import AdminPrincipal, require_admin
from toolbox_core.errors import NotFound
from toolbox_core.orders.service import MAX_ORDER_KEY, OrderService
from toolbox_core.params import CreatedAt, Limit, Offset
from toolbox_core.workflows.orders import OrderWorkflow

#: The largest single refund accepted (10 billion so'm), a bound against typos and overflow.
MAX_REFUND_TIYIN = 1_000_000_000_000
#: An Idempotency-Key is recorded inside a 128-character gateway transaction id (with the payment id).
MAX_IDEMPOTENCY_KEY = 64


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("canceled by staff", max_length=500)


class RefundBody(BaseModel):
    """A refund of part (or all) of what was paid; ``amount`` in tiyin."""

    model_config = ConfigDict(extra="forbid")
    amount: int = Field(..., strict=True, ge=1, le=MAX_REFUND_TIYIN)
    reason: str = Field("refund", min_length=1, max_length=500)


#: The order a change applies to: its id only (a number read off the phone opens the order with
#: ``GET /admin/orders/{number}``, whose answer has the id; a change never guesses from a number).
OrderId = Annotated[str, Path(max_length=MAX_ORDER_KEY, description="the order's id (ord_...)")]


def by_id(order_id: str) -> str:
    """``order_id`` if it is an order id; a number (or anything else) is a 404 that says what to send."""
    if not order_id.startswith("ord_"):
        raise NotFound("no such order: changes take the order's id (ord_...); GET /admin/orders/{number} "
                       "answers it", code="order_not_found")
    return order_id


def build_router(toolbox: Any) -> APIRouter:
    router = APIRouter(prefix="/admin/orders", tags=["admin: orders"])
    orders = OrderService(toolbox)
    workflow = OrderWorkflow(toolbox)
    read = Depends(require_admin("orders:read"))
    write = require_admin("orders:write")

    @router.get("", dependencies=[read], summary="Orders, newest first; filter and search by number/phone")
    def list_orders(
        *,
        status: Literal["pending_payment", "placed", "completed", "canceled"] | None = None,
        payment_status: Literal["awaiting", "authorized", "paid", "canceled", "partially_refunded",
                                "refund_pending", "refund_required", "refunded"] | None = None,
        fulfillment_status: Literal["unfulfilled", "fulfilled", "in_transit", "delivered", "returned",
                                    "canceled"] | None = None,
        q: str | None = Query(None, max_length=100),
        created: CreatedAt,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        return orders.list(status=status, payment_status=payment_status, fulfillment_status=fulfillment_status,
                           q=q, created=created, limit=limit, offset=offset)

    @router.get("/{id_or_number}", dependencies=[read], summary="One order by id or number, with items, payment and history",
                description="`id_or_number` is the order's id (`ord_...`) or its number as the shopper sees it "
                            "(`1001`, or `#1001` written `%231001` in a URL). Changes (cancel, refunds, fulfil, "
                            "deliver) take the id this answers.")
    def get_order(id_or_number: str = Path(max_length=MAX_ORDER_KEY,
                                           description="ord_... id or number (1001, #1001)")) -> dict[str, Any]:
        return orders.get(id_or_number, admin=True)

    @router.post("/{order_id}/cancel",
                 summary="Cancel; refunds through the provider when paid (or records a refund request)")
    def cancel(order_id: OrderId, body: CancelBody | None = None,
               admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        return workflow.cancel(by_id(order_id), actor=f"admin:{admin.name}", reason=(body or CancelBody()).reason)

    @router.post("/{order_id}/refunds",
                 summary="Refund part of a paid order (through the provider, or as a refund request)")
    def refund(order_id: OrderId, body: RefundBody, admin: AdminPrincipal = Depends(write),
               idempotency_key: str | None = Header(None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY)) -> dict[str, Any]:
        return workflow.refund(by_id(order_id), amount=body.amount, reason=body.reason, actor=f"admin:{admin.name}",
                               request_key=idempotency_key)

    @router.post("/{order_id}/fulfill", summary="Mark handed to delivery")
    def fulfill(order_id: OrderId, admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        return orders.fulfill(by_id(order_id), actor=f"admin:{admin.name}")

    @router.post("/{order_id}/deliver", summary="Mark delivered (captures cash on delivery)")
    def deliver(order_id: OrderId, admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        return orders.deliver(by_id(order_id), actor=f"admin:{admin.name}")

    return router

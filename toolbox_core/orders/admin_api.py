"""Admin API for orders: list/filter/search, view, cancel (refund when paid), refunds, fulfil, deliver."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from toolbox_core.admin.auth import AdminPrincipal, require_admin
from toolbox_core.orders.service import OrderService
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

    @router.get("/{order_id}", dependencies=[read], summary="One order with items, payment and history")
    def get_order(order_id: str) -> dict[str, Any]:
        return orders.get(order_id, admin=True)

    @router.post("/{order_id}/cancel",
                 summary="Cancel; refunds through the provider when paid (or records a refund request)")
    def cancel(order_id: str, body: CancelBody | None = None,
               admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        return workflow.cancel(order_id, actor=f"admin:{admin.name}", reason=(body or CancelBody()).reason)

    @router.post("/{order_id}/refunds",
                 summary="Refund part of a paid order (through the provider, or as a refund request)")
    def refund(order_id: str, body: RefundBody, admin: AdminPrincipal = Depends(write),
               idempotency_key: str | None = Header(None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY)) -> dict[str, Any]:
        return workflow.refund(order_id, amount=body.amount, reason=body.reason, actor=f"admin:{admin.name}",
                               request_key=idempotency_key)

    @router.post("/{order_id}/fulfill", summary="Mark handed to delivery")
    def fulfill(order_id: str, admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        return orders.fulfill(order_id, actor=f"admin:{admin.name}")

    @router.post("/{order_id}/deliver", summary="Mark delivered (captures cash on delivery)")
    def deliver(order_id: str, admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        return orders.deliver(order_id, actor=f"admin:{admin.name}")

    return router

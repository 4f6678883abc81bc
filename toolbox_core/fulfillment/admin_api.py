"""Admin API for shipments: list an order's shipments, ship through its carrier, status, cancel, label."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from toolbox_core.admin.auth import AdminPrincipal, require_admin
from toolbox_core.errors import ServiceUnavailable
from toolbox_core.fulfillment.service import ShipmentService
from toolbox_core.orders.admin_api import OrderId


class ShipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: The carrier; the order's chosen shipping provider when omitted.
    provider_id: str | None = Field(None, min_length=1, max_length=64)


class StatusBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["in_transit", "delivered", "returned", "canceled"]
    message: str = Field("", max_length=500)


#: A shipment id (``shp_...``), bounded like every path parameter.
ShipmentId = Annotated[str, Path(max_length=40, description="the shipment's id")]


def build_router(toolbox: Any) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin: shipments"])
    shipments = ShipmentService(toolbox)
    read = Depends(require_admin("orders:read"))
    write = require_admin("orders:write")

    @router.get("/orders/{order_id}/shipments", dependencies=[read], summary="An order's shipments")
    def list_shipments(order_id: OrderId) -> dict[str, Any]:
        return {"items": [s.as_dict() for s in shipments.for_order(order_id)]}

    @router.post("/orders/{order_id}/shipments", status_code=201,
                 summary="Create the carrier's shipment for the order (idempotent)")
    def ship(order_id: OrderId, body: ShipBody | None = None,
             admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        body = body or ShipBody()
        return shipments.ship(order_id, body.provider_id, actor=f"admin:{admin.name}").as_dict()

    @router.get("/shipments/{shipment_id}", dependencies=[read], summary="One shipment")
    def get_shipment(shipment_id: ShipmentId) -> dict[str, Any]:
        return shipments.get(shipment_id).as_dict()

    @router.post("/shipments/{shipment_id}/status", summary="Set a shipment's status by hand")
    def set_status(shipment_id: ShipmentId, body: StatusBody, admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        return shipments.set_status(shipment_id, body.status, actor=f"admin:{admin.name}",
                                    message=body.message).as_dict()

    @router.post("/shipments/{shipment_id}/cancel", summary="Cancel at the carrier while it allows")
    def cancel(shipment_id: ShipmentId, admin: AdminPrincipal = Depends(write)) -> dict[str, Any]:
        return shipments.cancel(shipment_id, actor=f"admin:{admin.name}").as_dict()

    @router.get("/shipments/{shipment_id}/label", dependencies=[read], summary="The shipping label (PDF)")
    def label(shipment_id: ShipmentId) -> Response:
        doc = shipments.label(shipment_id)
        if doc.content is not None:
            return Response(doc.content, media_type=doc.content_type,
                            headers={"content-disposition": f'inline; filename="{shipment_id}.pdf"'})
        if doc.url:
            return RedirectResponse(doc.url, status_code=307)
        raise ServiceUnavailable("the carrier returned no label", code="label_unavailable")

    return router

"""HTTP routes: the directory for the storefront, the shipping-method step, the tracking webhook."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from toolbox_bts import directory
from toolbox_bts.settings import BtsSettings
from toolbox_bts.tracking import map_status, parse_webhook
from toolbox_core.api import (
    BadRequest,
    CartService,
    Conflict,
    Forbidden,
    NotFound,
    ShipmentService,
    Toolbox,
    optional_customer,
    read_body,
    request_locale,
)

log = logging.getLogger("toolbox.bts")

MAX_WEBHOOK_BYTES = 64 * 1024
#: Directory answers are public reference data that changes daily; each process keeps the
#: rendered JSON for this long (no sensitive state; every process reads the same tables).
DIRECTORY_CACHE_SECONDS = 30.0
_CODE = r"^[0-9]{1,10}$"


class ShippingMethodIn(BaseModel):
    """The customer's BTS choice. Unknown fields (a ``price`` sent by the client) are ignored."""

    model_config = ConfigDict(extra="ignore")
    cart_id: str = Field(min_length=1, max_length=40)
    option: Literal["branch_to_branch", "branch_to_door"]
    branch_code: str | None = Field(None, max_length=20, pattern=r"^[0-9]{1,20}$")


class _RenderedCache:
    """Rendered JSON bodies by key, for a few seconds (bounded)."""

    def __init__(self, ttl: float, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self.items: dict[str, tuple[float, bytes]] = {}

    def get(self, key: str) -> bytes | None:
        hit = self.items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: str, body: bytes) -> None:
        if len(self.items) >= self.size:
            self.items.clear()
        self.items[key] = (time.monotonic() + self.ttl, body)


def _token_ok(secret: str, request: Request, fields: dict[str, Any]) -> bool:
    auth = request.headers.get("authorization", "")
    candidates = [request.query_params.get("token"), request.headers.get("token"),
                  request.headers.get("x-webhook-token"), auth[7:] if auth.lower().startswith("bearer ") else None,
                  fields.get("token") if isinstance(fields.get("token"), str) else None]
    return any(c is not None and hmac.compare_digest(c.encode(), secret.encode()) for c in candidates)


def build_router(toolbox: Toolbox, settings: BtsSettings) -> APIRouter:
    router = APIRouter(tags=["bts"])
    cache = _RenderedCache(DIRECTORY_CACHE_SECONDS)

    async def cached(key: str, load: Callable[[], Any]) -> Response:
        body = cache.get(key)
        if body is None:
            data = await run_in_threadpool(load)
            if data is None:
                raise NotFound("no such BTS region", code="bts_region_not_found")
            body = json.dumps({"items": data}, ensure_ascii=False, separators=(",", ":")).encode()
            cache.put(key, body)
        return Response(body, media_type="application/json", headers={"cache-control": "public, max-age=300"})

    @router.get("/store/bts/regions", summary="BTS regions, in the customer's locale")
    async def regions(loc: str = Depends(request_locale)) -> Response:
        return await cached(f"r:{loc}", lambda: directory.regions(toolbox, loc))

    @router.get("/store/bts/regions/{code}/cities", summary="Cities and districts of a BTS region")
    async def cities(code: str = Path(max_length=10, pattern=_CODE), loc: str = Depends(request_locale)) -> Response:
        return await cached(f"c:{code}:{loc}", lambda: directory.cities(toolbox, code, loc))

    @router.get("/store/bts/branches", summary="BTS branches (pickup points) of a city, with coordinates")
    async def branches(city: str = Query(max_length=10, pattern=_CODE), loc: str = Depends(request_locale)) -> Response:
        return await cached(f"b:{city}:{loc}", lambda: directory.branches(toolbox, city, loc))

    @router.post("/store/bts/shipping-method", summary="Choose BTS delivery for a cart; priced on the server")
    def shipping_method(body: ShippingMethodIn, customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        data = {"branch_code": body.branch_code} if body.branch_code else None
        if body.option == "branch_to_branch" and data is None:
            raise BadRequest("branch_to_branch needs a branch_code (GET /store/bts/branches?city=...)",
                             code="branch_code_required")
        if body.option == "branch_to_door" and body.branch_code:
            raise BadRequest("branch_to_door takes no branch_code", code="invalid_shipping_data")
        cart = CartService(toolbox).select_shipping(body.cart_id, customer, "bts", body.option, data)
        shipping = cart["shipping"]
        return {"cart_id": cart["id"], "option": body.option, "branch_code": body.branch_code,
                "amount": shipping["amount"], "currency": cart["currency"],
                "price_source": shipping["data"].get("price_source"), "cart": cart}

    @router.post("/bts/webhook", summary="BTS status callbacks (form-data or JSON; secret token)")
    async def webhook(request: Request) -> dict[str, Any]:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        if not secret:
            raise Forbidden("the BTS webhook is not configured (set TOOLBOX_BTS__WEBHOOK_SECRET)",
                            code="webhook_disabled")
        raw = await read_body(request, MAX_WEBHOOK_BYTES)
        fields: dict[str, Any] = {}
        kind = request.headers.get("content-type", "")
        if "form" in kind:
            form = await request.form()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        elif raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                raise BadRequest("the webhook body is neither form-data nor JSON", code="invalid_body") from None
            fields = parsed if isinstance(parsed, dict) else {}
        if not _token_ok(secret, request, fields):
            raise Forbidden("bad webhook token", code="bad_token")
        update = parse_webhook(fields)
        if update is None:
            raise BadRequest("no BTS status in the webhook body", code="invalid_body")
        return await run_in_threadpool(apply_update, toolbox, update.order_id, update.client_id, update.barcode,
                                       update.status_code, f"BTS {update.status_code} {update.status_name}".strip())

    return router


def apply_update(toolbox: Toolbox, order_id: str | None, client_id: str | None, barcode: str | None,
                 code: str, message: str) -> dict[str, Any]:
    """Apply one BTS status to our shipment; repeats and out-of-order updates are ignored."""
    shipments = ShipmentService(toolbox)
    shipment = ((order_id and shipments.find("bts", external_id=order_id))
                or (barcode and shipments.find("bts", tracking_number=barcode))
                or (client_id and shipments.find("bts", order_number=client_id)) or None)
    if shipment is None:
        log.info("BTS webhook for an unknown shipment (orderId=%s clientId=%s)", order_id, client_id)
        return {"status": True, "result": "unknown_shipment"}
    status = map_status(code)
    try:
        view = shipments.set_status(shipment.id, status, carrier_status=code, actor="bts", message=message)
    except Conflict:
        return {"status": True, "result": "ignored", "shipment_status": shipment.status}
    return {"status": True, "result": "applied", "shipment_status": view.status}

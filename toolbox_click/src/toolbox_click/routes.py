"""HTTP: Click's SHOP API callbacks (``/click/prepare``, ``/click/complete``, ``/click/callback``)
and the admin API (``/admin/click/...``).

The callback router answers every error itself in Click's flat shape (HTTP 200, integer
``error``), never the kernel's JSON error envelope: Click reads only ``error``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select

from toolbox_click.merchant_api import ClickApiError, ClickMerchantApi, ClickUnavailable
from toolbox_click.models import ClickInvoice, ClickTransaction
from toolbox_click.protocol import (
    COMPLETE,
    MAX_BODY_BYTES,
    PREPARE,
    ClickCode,
    ClickError,
    parse_form,
    reply,
)
from toolbox_click.settings import ClickSettings
from toolbox_click.shop import ClickShop
from toolbox_core.api import (
    Conflict,
    CreatedAt,
    Limit,
    NotFound,
    Offset,
    ServiceUnavailable,
    ToolboxError,
    get_order_view,
    iso_utc,
    normalize_phone,
    own_error_route,
    require_admin,
    run_db_work,
    utcnow,
)

log = logging.getLogger("toolbox.click")


def _click_error_reply(request: Request, exc: Exception) -> Response:
    """Anything that escaped the handler (the request itself was parsed and answered by the
    shop): our own failure to update the order, -7. The kernel logs unexpected ones."""
    code = ClickCode.FAILED_TO_UPDATE_USER
    return JSONResponse({"error": int(code), "error_note": code.note}, status_code=200)


async def bounded_body(request: Request) -> bytes:
    """The request body, read only up to ``MAX_BODY_BYTES`` (a larger one is -8, never buffered)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ClickError(ClickCode.BAD_REQUEST, "request too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ClickError(ClickCode.BAD_REQUEST, "request too large")
    return bytes(body)


def shop_router(toolbox: Any, settings: ClickSettings) -> APIRouter:
    """``POST /click/prepare``, ``/click/complete`` and ``/click/callback`` (dispatch on ``action``)."""
    router = APIRouter(prefix="/click", tags=["click: SHOP API"], route_class=own_error_route(_click_error_reply))
    shop = ClickShop(toolbox, settings)

    async def answer(request: Request, endpoint_action: int | None) -> JSONResponse:
        try:
            fields = parse_form(await bounded_body(request))
        except ClickError as exc:
            return JSONResponse(reply({}, exc.code, note=exc.note), status_code=200)
        # Database work only (a late capture's reversal is a subscriber's job): on the loop.
        return JSONResponse(await run_db_work(toolbox, shop.handle, fields, endpoint_action), status_code=200)

    @router.post("/prepare", summary="Click Prepare (action=0), form fields; flat JSON reply")
    async def prepare(request: Request) -> JSONResponse:
        return await answer(request, PREPARE)

    @router.post("/complete", summary="Click Complete (action=1), form fields; flat JSON reply")
    async def complete(request: Request) -> JSONResponse:
        return await answer(request, COMPLETE)

    @router.post("/callback", summary="Click Prepare or Complete, by the action field")
    async def callback(request: Request) -> JSONResponse:
        return await answer(request, None)

    return router


class InvoiceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: The payer's phone (``+998XXXXXXXXX``); the order's phone when omitted.
    phone: str | None = Field(None, min_length=9, max_length=20)


def _row(row: ClickTransaction) -> dict[str, Any]:
    return {
        "id": row.id, "click_trans_id": row.click_trans_id, "click_paydoc_id": row.click_paydoc_id,
        "order_id": row.order_id, "order_number": row.merchant_trans_id, "payment_id": row.payment_id,
        "amount": row.amount, "status": row.status, "click_error": row.click_error,
        "click_error_note": row.click_error_note, "reversal_status": row.reversal_status,
        "reversal_note": row.reversal_note, "created_at": iso_utc(row.created_at),
        "confirmed_at": iso_utc(row.confirmed_at),
        "cancelled_at": iso_utc(row.cancelled_at),
        "reversed_at": iso_utc(row.reversed_at),
    }


@contextlib.contextmanager
def merchant_api_errors(refused: str) -> Iterator[None]:
    """A Merchant API failure as the kernel's error: unreachable 503, refused 502 (``refused: why``)."""
    try:
        yield
    except ClickUnavailable as exc:
        raise ServiceUnavailable("Click is unreachable; try again", code="click_unavailable") from exc
    except ClickApiError as exc:
        raise ToolboxError(f"{refused}: {exc}", code="click_refused", status=502,
                           details={"error_code": exc.error_code}) from exc


def admin_router(toolbox: Any, api: ClickMerchantApi) -> APIRouter:
    """``GET /admin/click/transactions`` (+ ``/{id}/click-status``) and
    ``POST /admin/click/orders/{number}/invoice``."""
    router = APIRouter(prefix="/admin/click", tags=["admin: click"])

    @router.get("/transactions", dependencies=[Depends(require_admin("payments:read"))],
                summary="Click payment attempts, newest first, by order, status and date")
    def transactions(*, order: str | None = Query(None, min_length=1, max_length=40, description="order id or number"),
                     status: Literal["prepared", "confirmed", "cancelled", "reversed"] | None = None,
                     created: CreatedAt,
                     limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
        query = created.apply(select(ClickTransaction), ClickTransaction.created_at)
        if order is not None:
            query = query.where(or_(ClickTransaction.order_id == order, ClickTransaction.merchant_trans_id == order))
        if status is not None:
            query = query.where(ClickTransaction.status == status)
        with toolbox.db.session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            rows = session.scalars(query.order_by(ClickTransaction.created_at.desc(), ClickTransaction.id.desc())
                                   .limit(limit).offset(offset)).all()
            return {"items": [_row(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    @router.get("/transactions/{transaction_id}/click-status", dependencies=[Depends(require_admin("payments:read"))],
                summary="Ask Click (Merchant API payment/status) what it knows of this attempt")
    def click_status(transaction_id: int = Path(ge=1, le=2**63 - 1)) -> dict[str, Any]:
        with toolbox.db.session() as session:
            row = session.get(ClickTransaction, transaction_id)
            if row is None:
                raise NotFound("no such Click transaction", code="click_transaction_not_found")
            click_trans_id, ours = row.click_trans_id, _row(row)
        with merchant_api_errors("Click refused"):
            answer = api.payment_status(click_trans_id)
        return {"transaction": ours, "click": {"payment_id": answer.get("payment_id"),
                                               "payment_status": answer.get("payment_status"),
                                               "error_note": answer.get("error_note")}}

    @router.post("/orders/{number}/invoice", status_code=201, dependencies=[Depends(require_admin("payments:write"))],
                 summary="Send the payer a Click invoice for an unpaid Click order (pay by phone)")
    def invoice(number: str = Path(max_length=20, description="the order's number"), body: InvoiceBody | None = None) -> dict[str, Any]:
        view = get_order_view(toolbox, number)
        if view.number != number:
            raise NotFound("no such order", code="order_not_found")
        if view.payment is None or view.payment.provider_id != "click":
            raise Conflict("this order is not paid with Click", code="not_a_click_order")
        if view.status != "pending_payment" or view.payment.status not in ("pending", "authorized"):
            raise Conflict(f"the order is {view.status} and its payment {view.payment.status}",
                           code="order_not_payable")
        phone = normalize_phone(body.phone) if body and body.phone else view.phone
        with merchant_api_errors("Click refused the invoice"):
            answer = api.create_invoice(amount=view.payment.amount, phone=phone, merchant_trans_id=view.number)
        invoice_id = answer.get("invoice_id")
        if not isinstance(invoice_id, int) or isinstance(invoice_id, bool):
            raise ToolboxError("Click answered without an invoice id", code="click_bad_reply", status=502)
        with toolbox.db.transaction() as session:
            session.add(ClickInvoice(invoice_id=invoice_id, order_id=view.id, merchant_trans_id=view.number,
                                     phone=phone, amount=view.payment.amount, created_at=utcnow()))
        return {"invoice_id": invoice_id, "order_number": view.number, "phone": phone,
                "amount": view.payment.amount}

    return router

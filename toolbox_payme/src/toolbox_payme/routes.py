"""HTTP: the Merchant API endpoint Payme calls, and the admin views of Payme transactions.

The endpoint answers **HTTP 200 with a JSON-RPC body for everything**, errors included (bad
JSON, a GET, a missing field, a crash): its router uses ``own_error_route``, so the kernel's JSON
error shape never reaches Payme.
"""

from __future__ import annotations

import json
import logging
import math
from ipaddress import ip_address, ip_network
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from toolbox_core.api import (
    CreatedAt,
    Limit,
    NotFound,
    Offset,
    Toolbox,
    iso_utc,
    own_error_route,
    require_admin,
    run_db_work,
)
from toolbox_payme import errors as e
from toolbox_payme.merchant import Merchant, statement_record
from toolbox_payme.models import PaymeTransaction

log = logging.getLogger("toolbox.payme")


def _reply(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=200)


def _on_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected on the endpoint: a JSON-RPC system error, still HTTP 200."""
    return _reply(e.PaymeError(e.SYSTEM_ERROR).body(getattr(request.state, "payme_request_id", None)))


def build_callback_router(merchant: Merchant) -> APIRouter:
    settings = merchant.settings
    networks = [ip_network(n, strict=False) for n in settings.allowed_networks]
    router = APIRouter(route_class=own_error_route(_on_error), tags=["payme"])

    @router.api_route(settings.callback_path, methods=["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"],
                      include_in_schema=False)
    async def not_post() -> JSONResponse:
        """Any other method: Payme's own error (-32300), as HTTP 200 like every JSON-RPC answer."""
        return _reply(e.PaymeError(e.NOT_POST).body(None))

    @router.post(settings.callback_path, summary="Payme Merchant API (JSON-RPC; Basic auth Paycom:<kassa key>)")
    async def callback(request: Request) -> JSONResponse:
        body = await _read_limited(request, settings.max_body_bytes)
        if body is None:
            return _reply(e.PaymeError(e.INVALID_REQUEST).body(None))
        try:
            call = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested thousands deep
            return _reply(e.PaymeError(e.PARSE_ERROR).body(None))
        request_id = call.get("id") if isinstance(call, dict) else None
        if not _json_rpc_id(request_id):
            # JSON-RPC 2.0: an id is a string, a number or null; any other is an invalid
            # request, answered with id null (the id could not be read).
            return _reply(e.PaymeError(e.INVALID_REQUEST).body(None))
        request.state.payme_request_id = request_id
        if not isinstance(call, dict) or not isinstance(call.get("method"), str) \
                or not isinstance(call.get("params", {}), dict) or _holds_nul(call):
            # A NUL (JSON "\u0000") names no order, transaction or key, on any database.
            return _reply(e.PaymeError(e.INVALID_REQUEST).body(request_id))
        client = request.client.host if request.client else None
        if networks and not _allowed(client, networks):
            log.warning("payme: call from %s outside the allowed networks", client)
            return _reply(e.PaymeError(e.INSUFFICIENT_PRIVILEGES).body(request_id))
        return await run_db_work(merchant.toolbox, _answer, merchant, request.headers.get("authorization"), call,
                                 request_id)

    return router


def _answer(merchant: Merchant, authorization: str | None, call: dict[str, Any], request_id: Any) -> JSONResponse:
    """Auth, then the method: short database work, on the loop (``run_db_work``)."""
    try:
        result = merchant.answer(authorization, call["method"], call.get("params") or {})
    except e.PaymeError as error:
        log.info("payme: %s answered %s", call["method"], error.code)
        return _reply(error.body(request_id))
    return _reply({"jsonrpc": "2.0", "result": result, "id": request_id})


async def _read_limited(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json_rpc_id(value: Any) -> bool:
    """Whether ``value`` is an id JSON-RPC 2.0 allows (a string, a number or null), to be echoed
    as sent: a fractional one too (numbers "SHOULD NOT" have fractional parts, but the reply
    "MUST" carry the request's id). Payme sends integers; an infinite float (``1e400``) cannot be
    written back in JSON, so it is refused like a boolean, an object or a list."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or (isinstance(value, int | str) and not isinstance(value, bool))


def _holds_nul(value: Any) -> bool:
    """Whether a string anywhere in the parsed call holds a NUL character."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _allowed(client: str | None, networks: list[Any]) -> bool:
    try:
        address = ip_address(client or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


# ------------------------------------------------------------------------------ admin
def admin_record(tx: PaymeTransaction) -> dict[str, Any]:
    return {**statement_record(tx), "order_id": tx.order_id, "order_number": tx.order_number,
            "payment_id": tx.payment_id, "fiscal_perform": tx.fiscal_perform, "fiscal_cancel": tx.fiscal_cancel,
            "created_at": iso_utc(tx.created_at)}


def build_admin_router(toolbox: Toolbox) -> APIRouter:
    router = APIRouter(prefix="/admin/payme", tags=["admin: payme"])
    read = Depends(require_admin("payments:read"))

    @router.get("/transactions", dependencies=[read], summary="Payme transactions, newest first, by order, state and date")
    def list_transactions(
        *,
        order: str | None = Query(None, min_length=1, max_length=40, description="order id or number"),
        state: int | None = Query(None, ge=-2, le=2),
        created: CreatedAt,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        stmt = created.apply(select(PaymeTransaction), PaymeTransaction.created_at)
        if order:
            stmt = stmt.where((PaymeTransaction.order_id == order) | (PaymeTransaction.order_number == order))
        if state is not None:
            stmt = stmt.where(PaymeTransaction.state == state)
        with toolbox.db.session() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = session.scalars(stmt.order_by(PaymeTransaction.payme_time.desc()).limit(limit).offset(offset))
            return {"items": [admin_record(tx) for tx in rows], "total": total, "limit": limit, "offset": offset}

    @router.get("/transactions/{transaction_id}", dependencies=[read],
                summary="One Payme transaction (by our id or Payme's), with its fiscal data")
    def get_transaction(transaction_id: str = Path(max_length=64, description="our id or Payme's")
                        ) -> dict[str, Any]:
        with toolbox.db.session() as session:
            tx = session.scalar(select(PaymeTransaction).where(
                (PaymeTransaction.id == transaction_id) | (PaymeTransaction.payme_id == transaction_id)))
            if tx is None:
                raise NotFound("no such Payme transaction", code="payme_transaction_not_found")
            return admin_record(tx)

    return router

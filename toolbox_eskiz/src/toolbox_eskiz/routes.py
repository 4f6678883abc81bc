"""HTTP: Eskiz's delivery callback and the admin list of messages."""

from __future__ import annotations

import hmac
import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select

from toolbox_core.api import (
    Forbidden,
    InvalidInput,
    Toolbox,
    iso_utc,
    normalize_phone,
    read_body,
    require_admin,
)
from toolbox_eskiz.callbacks import apply_report, clean_report
from toolbox_eskiz.models import STATUSES, EskizMessage
from toolbox_eskiz.runtime import settings_of

log = logging.getLogger("toolbox.eskiz")

MAX_CALLBACK_BYTES = 16 * 1024


def build_router(toolbox: Toolbox) -> list[APIRouter]:
    callback = APIRouter(prefix="/eskiz", tags=["eskiz"])

    @callback.post("/callback", summary="Eskiz delivery report (token in the query string)")
    async def eskiz_callback(request: Request, token: str = Query("", max_length=200)) -> dict[str, str]:
        expected = settings_of(toolbox).callback_token
        if expected is None or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
            raise Forbidden("unknown callback token")
        body = await read_body(request, MAX_CALLBACK_BYTES)
        report = clean_report(_parse(body, request.headers.get("content-type", "")))
        if not report.get("status"):
            raise InvalidInput("a delivery report needs a status", details={"field": "status"})
        apply_report(toolbox, report)  # unknown ids are logged and still answered 200
        return {"status": "ok"}

    admin = APIRouter(prefix="/admin/eskiz", tags=["admin: eskiz"],
                      dependencies=[Depends(require_admin("eskiz:read"))])

    @admin.get("/messages", summary="SMS records, newest first, by phone, status and date")
    def list_messages(phone: str | None = Query(None, max_length=32),
                      status: str | None = Query(None, max_length=20),
                      since: datetime | None = None, until: datetime | None = None,
                      limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=1_000_000)) -> dict[str, Any]:
        query = select(EskizMessage)
        if phone:
            query = query.where(EskizMessage.phone == normalize_phone(phone))
        if status:
            if status not in STATUSES:
                raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", details={"field": "status"})
            query = query.where(EskizMessage.status == status)
        if since:
            query = query.where(EskizMessage.created_at >= since)
        if until:
            query = query.where(EskizMessage.created_at < until)
        with toolbox.db.session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(EskizMessage.created_at.desc(), EskizMessage.id.desc())
                                   .limit(limit).offset(offset)).all()
            return {"items": [_view(row) for row in rows], "total": total, "limit": limit, "offset": offset}

    return [callback, admin]


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    """JSON or form data (Eskiz's content type is not documented)."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise InvalidInput("the callback body is not valid JSON") from None
        if not isinstance(value, dict):
            raise InvalidInput("the callback body must be a JSON object")
        return value
    return dict(parse_qsl(text, max_num_fields=50))


def _view(row: EskizMessage) -> dict[str, Any]:
    return {
        "id": row.id, "phone": row.phone, "template": row.template, "locale": row.locale, "text": row.text,
        "status": row.status, "gateway_status": row.gateway_status, "request_id": row.request_id,
        "eskiz_message_id": row.eskiz_message_id, "parts": row.parts, "cost": row.cost,
        "attempts": row.attempts, "last_error": row.last_error,
        "created_at": iso_utc(row.created_at),
        "status_at": iso_utc(row.status_at),
    }

"""Stock webhooks: ``POST /moysklad/webhook?token=...&requestId=...`` and ``webhooks install``.

The route answers within MoySklad's 1.5 s by recording the notification (unique on
``requestId``, so MoySklad's immediate retries are no-ops) and enqueueing the job
``moysklad.follow_webhook``, which takes the sync lease and follows ``reportUrl``.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from toolbox_core.api import (
    Forbidden,
    InvalidInput,
    PermanentFailure,
    RetryLater,
    Toolbox,
    insert_ignoring,
    iso_utc,
    read_body,
    utcnow,
)
from toolbox_moysklad.client import MoySkladClient
from toolbox_moysklad.models import MoySkladWebhook
from toolbox_moysklad.settings import MoySkladSettings
from toolbox_moysklad.sync import JOB_NAME, MoySkladSync, is_stock_report, settings_of

FOLLOW_JOB = "moysklad.follow_webhook"
MAX_BODY = 16 * 1024
WEBHOOK_PATH = "/moysklad/webhook"


def build_router(toolbox: Toolbox) -> APIRouter:
    router = APIRouter(tags=["moysklad"])

    @router.post(WEBHOOK_PATH, status_code=204, summary="MoySklad stock notification (webhookstock)")
    async def receive(request: Request, token: str = Query("", max_length=200),
                      request_id: str = Query(..., alias="requestId", min_length=1, max_length=64)) -> Response:
        settings = settings_of(toolbox)
        expected = settings.webhook_token.get_secret_value() if settings.webhook_token else ""
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise Forbidden("bad webhook token")
        body = await read_body(request, MAX_BODY)
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            raise InvalidInput("the body is not JSON", code="invalid_json") from None
        url = payload.get("reportUrl") if isinstance(payload, dict) else None
        if not isinstance(url, str) or not url or len(url) > 2000:
            raise InvalidInput("reportUrl is missing", code="invalid_notification")
        if not is_stock_report(settings, url):
            raise InvalidInput("reportUrl is not a stock report of the configured MoySklad API",
                               code="invalid_report_url")
        if await run_in_threadpool(record, toolbox, request_id, url):
            await run_in_threadpool(toolbox.jobs.enqueue, FOLLOW_JOB, request_id=request_id)
        return Response(status_code=204)

    return router


def record(toolbox: Toolbox, request_id: str, report_url: str) -> bool:
    """Store a notification once; ``True`` if it is new (a retry of a known ``requestId`` is not)."""
    with toolbox.db.transaction() as session:
        stmt = insert_ignoring(session.get_bind().dialect, MoySkladWebhook,
                               {"request_id": request_id, "report_url": report_url, "received_at": utcnow()},
                               conflict=["request_id"])
        # insert_ignoring keeps the cursor's rowcount, which psycopg would otherwise hide (-1).
        return session.execute(stmt).rowcount == 1


def follow(toolbox: Toolbox, request_id: str) -> None:
    """Job: follow a notification's ``reportUrl`` as an incremental run (once per ``requestId``)."""
    with toolbox.db.session() as session:
        hook = session.get(MoySkladWebhook, request_id)
        if hook is None or hook.processed_at is not None:
            return
        url = hook.report_url
    if not is_stock_report(settings_of(toolbox), url):
        raise PermanentFailure("reportUrl is not a stock report of the configured MoySklad API")
    lease = toolbox.scheduler.lease(JOB_NAME)
    if not lease.acquire():
        raise RetryLater("a MoySklad sync is running; the notification is followed after it", after=30)
    try:
        sync = MoySkladSync(toolbox)
        try:
            report = sync.run(trigger="webhook", report_url=url)
        finally:
            sync.close()
        with toolbox.db.transaction() as session:
            session.execute(update(MoySkladWebhook).where(MoySkladWebhook.request_id == request_id)
                            .values(processed_at=utcnow(), run_id=report["run_id"]))
    finally:
        lease.release()


def webhook_url(settings: MoySkladSettings) -> str:
    if not settings.public_url or settings.webhook_token is None:
        raise InvalidInput("set public_url and webhook_token to install webhooks", code="webhooks_not_configured")
    return f"{settings.public_url.rstrip('/')}{WEBHOOK_PATH}?token={settings.webhook_token.get_secret_value()}"


def install(settings: MoySkladSettings, client: MoySkladClient) -> str:
    """Register the stock webhook once: ``created``, ``enabled`` (was disabled) or ``exists``."""
    url = webhook_url(settings)
    if len(url) > 255:
        raise InvalidInput("the webhook URL is longer than MoySklad's 255 characters", code="url_too_long")
    wanted = {"url": url, "reportType": "all", "stockType": settings.figure}
    listed: dict[str, Any] = client.get("/entity/webhookstock", {"limit": 100}) or {}
    for row in listed.get("rows") or []:
        if all(row.get(k) == v for k, v in wanted.items()):
            if row.get("enabled"):
                return "exists"
            client.request("PUT", f"/entity/webhookstock/{row['id']}", json={"enabled": True})
            return "enabled"
    client.request("POST", "/entity/webhookstock", json={**wanted, "enabled": True})
    return "created"


def last_webhooks(toolbox: Toolbox, limit: int = 20) -> list[dict[str, Any]]:
    with toolbox.db.session() as session:
        rows = session.scalars(select(MoySkladWebhook).order_by(MoySkladWebhook.received_at.desc()).limit(limit))
        return [{"request_id": r.request_id, "received_at": iso_utc(r.received_at),
                 "processed_at": iso_utc(r.processed_at), "run_id": r.run_id}
                for r in rows]

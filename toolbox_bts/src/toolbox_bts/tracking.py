"""BTS statuses → shipment statuses, and the webhook's payload (spec §3.1 "Statuses", "Webhook").

100 at sender → ``created``; 1200 delivered → ``delivered``; 1300 deleted/cancelled →
``canceled``; 1400 expired (not collected, goes back to the sender) → ``returned``; every
other code (200 … 1100: picked up, at offices, sorting, in transit, courier delivering) →
``in_transit``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CREATED, DELIVERED, CANCELED, EXPIRED = "100", "1200", "1300", "1400"


def map_status(code: Any) -> str | None:
    """Our shipment status for a BTS status code, or ``None`` for something that is not a code."""
    text = str(code).strip()
    if not text.isdigit() or len(text) > 6:
        return None
    return {CREATED: "created", DELIVERED: "delivered", CANCELED: "canceled", EXPIRED: "returned"}.get(
        text, "in_transit")


@dataclass(frozen=True)
class WebhookUpdate:
    """One status change BTS reported."""

    order_id: str | None
    client_id: str | None
    barcode: str | None
    status_code: str
    status_name: str


def _short(value: Any, limit: int = 100) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:limit] or None


def parse_webhook(fields: dict[str, Any]) -> WebhookUpdate | None:
    """Read a webhook body (form fields or JSON), defensively: the format is unconfirmed.

    Accepts ``{"text": "<json>"}`` (form-data, the documented shape) or the JSON object itself:
    ``{clientId, orderId, barcode, status: {id|code, name}}`` (``status`` may be a bare code).
    """
    payload: Any = fields
    if isinstance(fields.get("text"), str):
        try:
            payload = json.loads(fields["text"])
        except ValueError:
            return None
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict) and "status" not in payload:
        payload = payload["data"]
    if not isinstance(payload, dict):
        return None
    status = payload.get("status")
    if isinstance(status, dict):
        code, name = status.get("id", status.get("code")), status.get("name") or status.get("info")
    else:
        code, name = status if status is not None else payload.get("status_code"), payload.get("status_name")
    code = _short(code, 10)
    if code is None or map_status(code) is None:
        return None
    return WebhookUpdate(order_id=_short(payload.get("orderId")), client_id=_short(payload.get("clientId")),
                         barcode=_short(payload.get("barcode")), status_code=code,
                         status_name=_short(name, 200) or "")

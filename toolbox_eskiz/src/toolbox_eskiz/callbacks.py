"""Delivery reports from Eskiz: status words mapped to delivered / failed / pending, stored."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from toolbox_core.api import Toolbox, utcnow
from toolbox_eskiz.models import DELIVERED, FAILED, SENT, EskizMessage

log = logging.getLogger("toolbox.eskiz")

FINAL_SUCCESS = {"DELIVERED", "DELIVRD"}
FINAL_FAILURE = {"REJECTED", "REJECTD", "UNDELIV", "UNDELIVERABLE", "EXPIRED", "DELETED"}


def map_status(word: str) -> str:
    """Eskiz's status (any case) -> ``delivered``, ``failed`` or ``sent`` (still pending)."""
    upper = word.strip().upper()
    if upper in FINAL_SUCCESS:
        return DELIVERED
    if upper in FINAL_FAILURE or upper.startswith("UNDELIV"):
        return FAILED
    return SENT


def apply_report(toolbox: Toolbox, report: dict[str, str]) -> str | None:
    """Store one callback; returns the record id, or ``None`` for a message we do not know.

    Repeats are harmless: a final status is never replaced by a pending one.
    """
    user_sms_id, request_id = report.get("user_sms_id") or "", report.get("request_id") or ""
    word = report.get("status") or ""
    status = map_status(word)
    with toolbox.db.transaction() as session:
        row = None
        if user_sms_id:
            row = session.get(EskizMessage, user_sms_id, with_for_update=True)
        if row is None and request_id:
            row = session.scalar(select(EskizMessage).where(EskizMessage.request_id == request_id)
                                 .with_for_update().limit(1))
        if row is None:
            log.warning("Eskiz report for an unknown message (user_sms_id=%r, request_id=%r, status=%r)",
                        user_sms_id[:64], request_id[:64], word[:40])
            return None
        if row.status in (DELIVERED, FAILED) and status == SENT:
            return row.id  # a late pending report after the final one
        row.status = status
        row.gateway_status = word[:40] or row.gateway_status
        row.eskiz_message_id = (report.get("message_id") or row.eskiz_message_id or None)
        parts = _parts(report.get("sms_count", ""))
        if parts is not None:
            row.parts = parts
        if request_id and not row.request_id:
            row.request_id = request_id
        row.status_at = utcnow()
        if status == FAILED:
            row.last_error = f"Eskiz reported {word[:40]}"
        return row.id


def _parts(sms_count: str) -> int | None:
    """Eskiz's ``sms_count`` as a number of parts; ``None`` when it is not plain ASCII digits
    (``str.isdigit`` accepts "²", which ``int`` refuses) or too large for the column."""
    if not (sms_count.isascii() and sms_count.isdigit()) or len(sms_count) > 6:
        return None
    return int(sms_count)


def clean_report(raw: dict[str, Any]) -> dict[str, str]:
    """The callback's fields as bounded strings (Eskiz sends strings; numbers are tolerated)."""
    fields = ("request_id", "message_id", "user_sms_id", "country", "phone_number", "sms_count",
              "status", "status_date")
    return {name: str(raw[name])[:100] for name in fields if isinstance(raw.get(name), str | int | float)}

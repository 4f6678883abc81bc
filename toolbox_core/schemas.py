"""Shapes shared by the store and admin APIs: timestamps and the one public address.

**Timestamps**: every date-time an API answers is ISO-8601 in UTC with a ``Z`` and microseconds,
``"2026-12-02T17:09:34.123456Z"`` — never naive, never ``+00:00``. Dict-building code calls
:func:`iso_utc`; pydantic response models use :data:`UtcDateTime`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

#: The pattern every timestamp of the APIs matches (tests walk responses with it).
ISO_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"


def iso_utc(value: datetime | None) -> str | None:
    """``value`` as the APIs' one timestamp form (a naive value is taken as UTC); ``None`` stays ``None``."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


#: A ``datetime`` field of a response model, serialized by :func:`iso_utc`.
UtcDateTime = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "example": "2026-12-02T17:09:34.123456Z"}),
]

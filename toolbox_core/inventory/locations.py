"""Stock locations: the named places stock is counted at (``"default"`` unless a source says otherwise)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolbox_core.errors import InvalidInput
from toolbox_core.ids import new_id
from toolbox_core.inventory.models import StockLocation

DEFAULT_LOCATION_CODE = "default"


def location_id(session: Session, code: str = DEFAULT_LOCATION_CODE, *, create: bool = True) -> str:
    """The id of the stock location ``code`` (created on first use)."""
    found = session.scalar(select(StockLocation.id).where(StockLocation.code == code))
    if found:
        return found
    if not create:
        raise InvalidInput(f"unknown stock location {code!r}", code="unknown_location")
    loc = StockLocation(id=new_id("sloc"), code=code, name=code)
    session.add(loc)
    session.flush()
    return loc.id

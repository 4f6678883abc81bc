"""Bounded query parameters: one pagination cap, one integer bound and one created-at range.

A Python ``int`` has no size, but the databases' have: an unbounded integer query parameter
past 64 bits reaches SQL and fails there (a 500). Routes use these types instead of a bare
``int``; :func:`unbounded_integer_params` finds any route that does not (``create_app`` logs
them and a kernel test keeps the list empty).

**Created-at ranges** (``?from=…&to=…`` of the admin lists): a route takes
``created: CreatedAt`` and applies it with ``created.apply(select, Model.created_at)``. Each
bound is an ISO date or an ISO date-time, and **days are UTC days**:

* ``from=2026-12-03`` is from 2026-12-03 00:00 UTC; ``to=2026-12-03`` includes that whole day
  (``< 2026-12-04 00:00 UTC``), as an admin means it (Saleor's date filters read the same);
* a date-time bound is inclusive; ``2026-12-03T10:00:00+05:00`` (or ``Z``) is that moment, a
  date-time without an offset is UTC, on SQLite and PostgreSQL alike (the bounds are bound as
  UTC, so neither SQLite's offset-blind text comparison nor PostgreSQL's session time zone
  shifts them). A ``+`` written unescaped in a URL arrives as a space; ``10:00 05:00`` is taken
  as ``10:00+05:00``;
* an empty value (``?from=``, a form's blank field) is no bound; a value that is neither form is
  a 422 ``invalid_input`` (``details.fields``, as any bad query); ``from`` later than ``to`` too,
  and ``from`` or ``to`` given more than once (``?from=a&from=b``: which one was meant? FastAPI
  would silently keep the last);
* a bound beyond what a timestamp can hold (``to=9999-12-31``, ``0001-01-01T00:00+05:00``) is
  clamped, never a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query
from fastapi.exceptions import RequestValidationError
from sqlalchemy import ColumnElement, Select

from toolbox_core.errors import InvalidInput

#: The largest value of a signed 64-bit column (PostgreSQL ``bigint``, SQLite ``INTEGER``).
INT64_MAX = 2**63 - 1
#: The largest page any list route returns.
MAX_PAGE_SIZE = 200
#: The deepest offset any list route accepts (deeper pages: narrow the filters).
MAX_OFFSET = 1_000_000

#: ``limit`` of a list route: 1..MAX_PAGE_SIZE.
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, at most {MAX_PAGE_SIZE}")]
#: ``offset`` of a list route: 0..MAX_OFFSET.
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, at most {MAX_OFFSET}")]
#: A non-negative integer query parameter that fits a 64-bit column (amounts in tiyin, counts).
QueryInt = Annotated[int, Query(ge=0, le=INT64_MAX)]
#: The longest key a URL path segment names (an id, a handle, a SKU, a locale): the longest
#: handle is 200 characters; a longer segment is a 422, never a lookup.
MAX_PATH_KEY = 200
#: A path segment naming one thing (``/admin/products/{ref}``): 1..MAX_PATH_KEY characters.
PathKey = Annotated[str, Path(min_length=1, max_length=MAX_PATH_KEY)]


#: The longest ``from`` / ``to`` value (``2026-12-03T10:00:00.123456+05:00`` is 32 characters).
MAX_MOMENT_LENGTH = 40

#: An ISO date, or a date-time to the minute, second or microsecond with an optional offset
#: (``Z``, ``+05``, ``+0500``, ``+05:00``; a space stands for a ``+`` that a URL decoded).
_MOMENT = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})"
                     r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
                     r"(?P<offset>Z|[+\- ]\d{2}(?::?\d{2})?)?)?", re.ASCII)
_MOMENT_FORMS = "a date (2026-12-03) or a date-time (2026-12-03T10:00:00, +05:00 or Z; no offset is UTC)"
_UTC_MIN = datetime.min.replace(tzinfo=UTC)
_UTC_MAX = datetime.max.replace(tzinfo=UTC)

_Statement = TypeVar("_Statement", bound=Select[Any])


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (naive is UTC); past the ends of ``datetime``, clamped to them."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00, 9999-12-31T23:00-05:00
        return _UTC_MIN if moment.year == 1 else _UTC_MAX


def parse_moment(text: str) -> tuple[datetime, bool]:
    """``(the moment in UTC, whether text named a whole day)``; ``ValueError`` if it is neither form."""
    match = _MOMENT.fullmatch(text.strip().upper())
    if match is None:
        raise ValueError(f"not {_MOMENT_FORMS}")
    try:
        if match["time"] is None:
            day = date.fromisoformat(match["date"])
            return datetime(day.year, day.month, day.day, tzinfo=UTC), True
        offset = (match["offset"] or "").replace(" ", "+")
        return _utc(datetime.fromisoformat(f"{match['date']}T{match['time']}{offset}")), False
    except ValueError:
        raise ValueError(f"no such date or time; expected {_MOMENT_FORMS}") from None


@dataclass(frozen=True)
class CreatedRange:
    """A created-at range: ``start <= created_at`` and ``created_at <= end`` (``< end`` when
    ``end_exclusive``, the day after a date-only ``to``). Bounds are aware UTC; ``None`` is open."""

    start: datetime | None = None
    end: datetime | None = None
    end_exclusive: bool = False

    @classmethod
    def parse(cls, start: str | None = None, end: str | None = None) -> CreatedRange:
        """The range of the ``from`` / ``to`` texts (see the module): 422 ``invalid_input`` when
        a bound is neither form (``RequestValidationError``, as FastAPI's own) or ``from`` > ``to``."""
        problems: list[dict[str, Any]] = []
        bounds: dict[str, tuple[datetime, bool]] = {}
        for name, text in (("from", start), ("to", end)):
            if text is None or not text.strip():  # absent, or a form's empty field
                continue
            try:
                bounds[name] = parse_moment(text)
            except ValueError as exc:
                problems.append({"type": "date_or_datetime_parsing", "loc": ("query", name), "msg": str(exc),
                                 "input": text})
        if problems:
            raise RequestValidationError(problems)
        begin = bounds["from"][0] if "from" in bounds else None
        stop, exclusive = None, False
        if "to" in bounds:
            stop, day = bounds["to"]
            if day:  # the whole day: before the next day's 00:00 (no next day after 9999-12-31)
                stop, exclusive = (stop + timedelta(days=1), True) if stop.date() < date.max else (_UTC_MAX, False)
        if begin is not None and stop is not None and (begin >= stop if exclusive else begin > stop):
            raise InvalidInput(f"from: later than to (from={start}, to={end})", details={"fields": [
                {"loc": ["query", "from"], "message": "must not be later than to", "type": "range_order"}]})
        return cls(begin, stop, exclusive)

    def clauses(self, column: Any) -> list[ColumnElement[bool]]:
        """The where-clauses of this range on ``column`` (a timezone-aware ``DateTime``)."""
        found: list[ColumnElement[bool]] = []
        if self.start is not None:
            found.append(column >= self.start)
        if self.end is not None:
            found.append(column < self.end if self.end_exclusive else column <= self.end)
        return found

    def apply(self, statement: _Statement, column: Any) -> _Statement:
        """``statement`` filtered to this range on ``column``."""
        clauses = self.clauses(column)
        return statement.where(*clauses) if clauses else statement


def created_range(
    start: Annotated[str | None, Query(alias="from", max_length=MAX_MOMENT_LENGTH, description=(
        "Created at or after: a date (2026-12-03: from 00:00 UTC that day) or a date-time "
        "(2026-12-03T10:00:00+05:00; without an offset, UTC)"), examples=["2026-12-03"])] = None,
    end: Annotated[str | None, Query(alias="to", max_length=MAX_MOMENT_LENGTH, description=(
        "Created at or before: a date (2026-12-03: that whole UTC day included) or a date-time "
        "(inclusive; without an offset, UTC)"), examples=["2026-12-03"])] = None,
) -> CreatedRange:
    """The FastAPI dependency behind :data:`CreatedAt`: ``?from=`` / ``?to=`` as a :class:`CreatedRange`
    (each at most once, as every single-valued query parameter: :mod:`toolbox_core.query_once`)."""
    return CreatedRange.parse(start, end)


#: ``?from=`` / ``?to=`` of a list route, as a :class:`CreatedRange` (``created: CreatedAt``).
CreatedAt = Annotated[CreatedRange, Depends(created_range)]


def _has_upper_bound(field: Any) -> bool:
    info = getattr(field, "field_info", None)
    for meta in getattr(info, "metadata", ()) or ():
        for attr in ("le", "lt"):
            bound = getattr(meta, attr, None)
            if bound is not None and bound <= INT64_MAX:
                return True
    return False


def _is_int(field: Any) -> bool:
    from typing import get_args

    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    if annotation is None:
        annotation = getattr(field, "type_", None)
    if annotation is int:
        return True
    return int in get_args(annotation) and bool not in get_args(annotation)


def unbounded_integer_params(app: Any) -> list[str]:
    """``"GET /path: name"`` for every integer query, path or header parameter with no upper bound."""
    found: list[str] = []

    def walk(dependant: Any, label: str) -> None:
        for group in ("query_params", "path_params", "header_params", "cookie_params"):
            for field in getattr(dependant, group, ()) or ():
                if _is_int(field) and not _has_upper_bound(field):
                    found.append(f"{label}: {field.name}")
        for sub in getattr(dependant, "dependencies", ()) or ():
            walk(sub, label)

    def routes(container: Any) -> Any:
        for route in getattr(container, "routes", ()) or ():
            included = getattr(route, "original_router", None)  # FastAPI keeps included routers whole
            if included is not None:
                yield from routes(included)
            else:
                yield route

    for route in routes(app):
        dependant = getattr(route, "dependant", None)
        if dependant is not None:
            methods = ",".join(sorted(getattr(route, "methods", None) or ()))
            walk(dependant, f"{methods} {route.path}")
    return found

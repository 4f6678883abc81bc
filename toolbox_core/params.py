"""Bounded query parameters: one pagination cap and one integer bound for every route.

A Python ``int`` has no size, but the databases' have: an unbounded integer query parameter
past 64 bits reaches SQL and fails there (a 500). Routes use these types instead of a bare
``int``; :func:`unbounded_integer_params` finds any route that does not (``create_app`` logs
them and a kernel test keeps the list empty).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

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

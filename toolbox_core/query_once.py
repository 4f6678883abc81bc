"""A query parameter that takes one value, given twice, is a 422: not silently its last value.

FastAPI keeps the last of ``?limit=2&limit=3`` without a word; a client that sent both has a bug
it should hear about, and the admin's date filters already refused it. :func:`scalar_query_names`
collects, once per route, the query parameters that are not lists (the route's own and its
dependencies'); :func:`repeated_problem` finds one given more than once in a request's query
string, cheaply: a query string with no ``&`` cannot repeat anything.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi.exceptions import RequestValidationError

_SEQUENCES = (list, tuple, set, frozenset, Sequence)


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    if origin is typing.Annotated:
        return _is_sequence(typing.get_args(annotation)[0])
    return isinstance(origin, type) and issubclass(origin, _SEQUENCES) and origin not in (str, bytes)


def scalar_query_names(dependant: Any) -> frozenset[str]:
    """The names (aliases) of the single-valued query parameters of a route's dependant tree."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        for field in current.query_params:
            if not _is_sequence(field.field_info.annotation):
                names.add(field.alias)
        stack.extend(current.dependencies)
    return frozenset(names)


def repeated_problem(query_string: bytes, scalar: frozenset[str]) -> RequestValidationError | None:
    """The 422 for single-valued parameters given more than once, or ``None``."""
    if b"&" not in query_string or not scalar:
        return None
    counts: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in scalar:
            counts.setdefault(name, []).append(value)
    repeated = [{"type": "multiple_values", "loc": ("query", name), "input": values,
                 "msg": f"given {len(values)} times; give it once"}
                for name, values in counts.items() if len(values) > 1]
    return RequestValidationError(repeated) if repeated else None

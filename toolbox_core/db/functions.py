"""SQL functions spelled differently by SQLite and PostgreSQL, as one SQLAlchemy construct each.

:class:`greatest` is PostgreSQL's ``greatest(a, b, ...)``; SQLite has no ``greatest``, but its
``max`` with two or more arguments is the same (scalar) function::

    update(levels).values(stocked=greatest(levels.c.stocked - sold, 0))
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import ReturnTypeFromArgs


class greatest(ReturnTypeFromArgs[Any]):
    """The largest of two or more values (typed as the first): ``greatest`` on PostgreSQL,
    ``max`` on SQLite."""

    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_on_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"

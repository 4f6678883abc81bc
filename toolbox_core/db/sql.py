"""Small SQL constructs the kernel builds its core statements from.

* :class:`greatest` is PostgreSQL's ``greatest(a, b, ...)``; SQLite has no ``greatest``, but its
  ``max`` with two or more arguments is the same (scalar) function::

      update(levels).values(stocked=greatest(levels.c.stocked - sold, 0))

* :func:`insert_select` writes one row of SQL expressions (``INSERT ... SELECT``), for a row
  whose values come from another part of the same statement (a number drawn in a CTE, the id
  an ``UPDATE ... RETURNING`` returned).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Insert, Table, insert, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import ReturnTypeFromArgs


class greatest(ReturnTypeFromArgs[Any]):
    """The largest of two or more values (typed as the first): ``greatest`` on PostgreSQL,
    ``max`` on SQLite."""

    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_on_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


def insert_select(table: Table, row: Mapping[str, Any], source: Any) -> Insert:
    """``INSERT INTO table (row's columns) SELECT row's values FROM source``: one row per row of
    ``source``; the columns not in ``row`` get their server default (no Python default is added)."""
    return insert(table).from_select(list(row), select(*row.values()).select_from(source), include_defaults=False)

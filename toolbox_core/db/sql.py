"""Small SQL constructs the kernel builds its core statements from.

* :class:`greatest` is PostgreSQL's ``greatest(a, b, ...)``; SQLite has no ``greatest``, but its
  ``max`` with two or more arguments is the same (scalar) function::

      update(levels).values(stocked=greatest(levels.c.stocked - sold, 0))

* :func:`insert_select` writes rows of SQL expressions (``INSERT ... SELECT``), for rows whose
  values come from another part of the same statement (a number drawn in a CTE, the id an
  ``UPDATE ... RETURNING`` returned) or several rows in one cached statement.

* :func:`without_wal_flush` (PostgreSQL) is a value to select in a statement that runs on its
  own (autocommit): that statement's commit is then answered without waiting for the WAL flush,
  and nothing else is (see its docstring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Table, func, insert, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import ReturnTypeFromArgs


class greatest(ReturnTypeFromArgs[Any]):
    """The largest of two or more values (typed as the first): ``greatest`` on PostgreSQL,
    ``max`` on SQLite."""

    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_on_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


def insert_select(table: Table, rows: Sequence[Mapping[str, Any]], source: Any = None) -> Insert:
    """``INSERT INTO table (the rows' columns) SELECT row values [FROM source] UNION ALL ...``:
    each row (same columns, SQL expressions) once per row of ``source`` (once without one); the
    columns not in the rows get their server default (no Python default is added).

    Unlike a multi-row ``insert().values([...])``, the statement is cached by SQLAlchemy like
    any other (compiled once, however often it runs)."""
    selects = [select(*row.values()) if source is None else select(*row.values()).select_from(source)
               for row in rows]
    query = selects[0] if len(selects) == 1 else union_all(*selects)
    return insert(table).from_select(list(rows[0]), query, include_defaults=False)


def without_wal_flush() -> Any:
    """PostgreSQL: ``set_config('synchronous_commit', 'off', true)``, to select (or return) in a
    statement run on its own (an autocommit connection's statement is its own transaction).

    The setting is local to that transaction and still in force when it commits, so its commit
    does not wait for the WAL to reach the disk (PostgreSQL's WAL writer flushes it within a
    fraction of a second; a crash of the database server may lose those last commits, never
    corrupts, and any later durable commit makes them durable too). The connection's own setting
    never changes: no ``SET`` round trips, and every other statement stays durable. Evaluated
    once per row it is selected in: select it where the statement's write produced a row (a
    statement that wrote nothing commits nothing to wait for)."""
    return func.set_config("synchronous_commit", "off", True)

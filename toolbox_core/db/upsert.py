"""``INSERT ... ON CONFLICT`` for SQLite and PostgreSQL from one call.

SQLAlchemy has the conflict clauses only on each dialect's own ``insert``
(``sqlalchemy.dialects.postgresql.insert`` / ``sqlalchemy.dialects.sqlite.insert``), which take
the same arguments. :func:`upsert` and :func:`insert_ignoring` pick the right one for the
dialect and return the statement, to run as it is, with ``.returning(...)`` added, or with a
list of parameter dicts (``executemany``)::

    dialect = session.get_bind().dialect.name
    session.execute(upsert(dialect, counters, {"name": name, "value": 1},
                           conflict=["name"], update={"value": counters.c.value + 1}))
    stmt = insert_ignoring(dialect, Customer, values, conflict=["phone"]).returning(Customer.id)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

#: One row (column name to value) or several (one multi-row ``VALUES``).
Values = Mapping[str, Any] | Sequence[Mapping[str, Any]]


def _with_values(stmt: Any, values: Values | None) -> Any:
    if values is None:
        return stmt
    return stmt.values(dict(values) if isinstance(values, Mapping) else [dict(row) for row in values])


def dialect_insert(dialect: str | Dialect, table: Any) -> Any:
    """The dialect's own ``insert(table)`` (the one with ``on_conflict_do_*``).

    ``dialect`` is a dialect or its name (``session.get_bind().dialect.name``, ``"sqlite"``,
    ``"postgresql"``); any other raises ``ValueError``. The statement keeps the cursor's
    ``rowcount`` (``preserve_rowcount``): without it SQLAlchemy answers -1 for an INSERT on
    psycopg, and a caller telling "inserted" from "ignored" by ``rowcount`` would be wrong.
    """
    name = dialect if isinstance(dialect, str) else dialect.name
    try:
        return _INSERTS[name](table).execution_options(preserve_rowcount=True)
    except KeyError:
        raise ValueError(f"no INSERT ... ON CONFLICT for the {name!r} dialect (sqlite or postgresql)") from None


def upsert(
    dialect: str | Dialect,
    table: Any,
    values: Values | None = None,
    *,
    conflict: Sequence[Any],
    update: Mapping[str, Any] | Sequence[str],
    where: Any = None,
) -> Any:
    """``INSERT ... ON CONFLICT (conflict) DO UPDATE SET ... [WHERE where]``.

    ``conflict`` names the unique columns (names or columns). ``update`` is either a mapping
    of column name to the new value or expression (columns of ``table`` in it read the existing
    row), or a sequence of column names that take the value of the row being inserted
    (``excluded.<name>``). With ``where`` only rows it holds for are updated; a conflicting row
    it does not hold for is left as it is (and returns nothing with ``RETURNING``).
    ``values`` is one row, a list of rows (one multi-row ``VALUES``), or left out to execute
    the statement with parameter dicts.
    """
    stmt = _with_values(dialect_insert(dialect, table), values)
    set_ = dict(update) if isinstance(update, Mapping) else {name: stmt.excluded[name] for name in update}
    return stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_, where=where)


def insert_ignoring(
    dialect: str | Dialect,
    table: Any,
    values: Values | None = None,
    *,
    conflict: Sequence[Any] | None = None,
) -> Any:
    """``INSERT ... ON CONFLICT [(conflict)] DO NOTHING``: a row that exists is left alone.

    Without ``conflict`` any unique violation is ignored. Inserted rows count in ``rowcount``
    and come back with ``RETURNING``; ignored ones do not. ``values`` as for :func:`upsert`.
    """
    stmt = _with_values(dialect_insert(dialect, table), values)
    return stmt.on_conflict_do_nothing(index_elements=list(conflict) if conflict is not None else None)

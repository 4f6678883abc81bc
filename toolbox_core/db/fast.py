"""The hot statements of a request, straight to psycopg: SQLAlchemy builds and compiles each
once, psycopg runs it.

``conn.execute(statement, params)`` costs SQLAlchemy about as much CPU as psycopg and the round
trip together: a cache key computed and hashed for the compiled-statement cache, parameters
rebuilt into a dict, an execution context, result metadata read from the cursor (which makes
psycopg describe every column). For the few statements every cart edit and every checkout runs
(the cart read with its catalog, the optimistic cart write, the one-statement checkout),
:func:`execute` does that work once per statement: it compiles it to PostgreSQL's own ``$n``
placeholders (no conversion by psycopg at each run, the query text is the same ``bytes`` object
each time, so psycopg's prepared-statement lookup hashes nothing) and keeps its parameter
order, type processors and result keys. Measured in ``benchmarks checkout``: see the note of
the change that brought it.

What stays the same as through SQLAlchemy: the ``before_cursor_execute`` /
``after_cursor_execute`` engine events (statement counters, write tracking), errors (wrapped
as SQLAlchemy's, a lost connection invalidated), the connection's transaction (a connection
outside autocommit begins one as ``conn.execute`` would). On any other database, ``execute``
is ``conn.execute``.

Only statements whose shape is fixed at build time qualify: no ``IN`` lists expanded per call
(use ``= ANY(:array)``), no column defaults computed in Python (an ``INSERT`` gets every column
it writes as a parameter), no result column whose reading depends on the driver's type code
(``Numeric``). :func:`execute` refuses the others with ``ValueError`` when first compiled, so a
test of the statement finds it. Rows are named tuples named as SQLAlchemy names them (index
and attribute access; no ``_mapping``); a missing parameter is a ``KeyError``.
"""

from __future__ import annotations

import copy
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True, slots=True)
class _Plan:
    """A statement compiled for psycopg: what :func:`execute` needs at each run."""

    sql: bytes
    text: str  # for events and errors
    values: Callable[[Mapping[str, Any]], Any]  # the parameters' values in ``$n`` order (a tuple)
    defaults: dict[str, Any]  # the statement's own values (``column == "open"``)
    binds: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, type processor) where one is needed
    row: type | None  # the row class (attribute and index access), None: no rows returned
    results: tuple[Callable[[Any], Any] | None, ...]  # per column, or () when none has a processor


class Result:
    """What :func:`execute` returns on PostgreSQL: the rows (named tuples) and the row count,
    with the ``CursorResult`` methods the hot paths use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def all(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def first(self) -> Any | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            from sqlalchemy.exc import MultipleResultsFound, NoResultFound

            raise (NoResultFound if not self._rows else MultipleResultsFound)(
                f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


#: Compiled plans by (statement, names of the parameters given): the hot statements are built
#: once per shape and kept by their modules, so this holds a bounded set.
_PLANS: dict[tuple[ClauseElement, frozenset[str]], _Plan] = {}
#: Past this many plans, a statement built per call is being passed: it runs through SQLAlchemy
#: (whose own cache is bounded) instead of growing :data:`_PLANS` without end.
MAX_PLANS = 500
#: The dialect to compile with: the engine's, with ``$n`` placeholders (one per dialect class).
_DIALECTS: dict[type, Any] = {}


def execute(conn: Connection, statement: ClauseElement, params: Mapping[str, Any] | None = None) -> Any:
    """Run ``statement`` with ``params`` on ``conn``, as ``conn.execute`` does (see the module's
    docstring); on PostgreSQL returns a :class:`Result`, elsewhere ``conn.execute``'s result."""
    params = params or {}
    if conn.dialect.name != "postgresql":
        return conn.execute(statement, params)
    key = (statement, frozenset(params))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= MAX_PLANS:
            return conn.execute(statement, params)
        plan = _PLANS[key] = _plan(conn, statement, key[1])
    values = list(plan.values({**plan.defaults, **params} if plan.defaults else params))  # KeyError: missing
    for position, bind in plan.binds:
        values[position] = bind(values[position])
    return _run(conn, plan, values)


def _run(conn: Connection, plan: _Plan, values: list[Any]) -> Result:
    from psycopg import RawCursor

    dbapi: Any = conn.connection.dbapi_connection
    if not dbapi.autocommit and not conn.in_transaction():
        conn.begin()  # as conn.execute would (the caller's ``with`` commits or rolls back)
    cursor = RawCursor(dbapi)  # type: ignore[arg-type]
    events = conn._has_events or conn.engine._has_events
    try:
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, plan.text, values, None, False)
        cursor.execute(plan.sql, values)
        rows = cursor.fetchall() if plan.row is not None else []
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, plan.text, values, None, False)
        rowcount = cursor.rowcount
    except BaseException as exc:  # as SQLAlchemy's own execute: wrapped, the connection invalidated if lost
        conn._handle_dbapi_exception(exc, plan.text, values, cursor, None)  # raises
    finally:
        cursor.close()
    if plan.row is not None:
        if plan.results:
            rows = [plan.row._make([p(v) if p is not None else v for p, v in zip(plan.results, r, strict=True)])
                    for r in rows]
        else:
            rows = list(map(plan.row._make, rows))
    return Result(rows, rowcount)


def _dialect(conn: Connection) -> Any:
    dialect = _DIALECTS.get(type(conn.dialect))
    if dialect is None:
        dialect = copy.copy(conn.dialect)
        dialect.paramstyle = "numeric_dollar"
        dialect.positional = True
        # The identifier preparer doubles every ``%`` for a pyformat driver; ``$n`` text goes to
        # the server as it is, so it gets a preparer of its own paramstyle.
        dialect.identifier_preparer = dialect.preparer(dialect)
        _DIALECTS[type(conn.dialect)] = dialect
    return dialect


def _plan(conn: Connection, statement: Any, given: frozenset[str]) -> _Plan:
    dialect = _dialect(conn)
    compiled = statement.compile(dialect=dialect, column_keys=sorted(given))
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("a fast statement cannot expand parameters per call (IN lists): use = ANY(:array)")
    if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
        raise ValueError("a fast statement cannot compute column defaults in Python: pass every column written")
    names = tuple(compiled.positiontup or ())
    defaults: dict[str, Any] = {}
    binds: list[tuple[int, Callable[[Any], Any]]] = []
    for position, name in enumerate(names):
        bind = compiled.binds[name]
        if bind.callable is not None:
            raise ValueError(f"a fast statement cannot compute parameter {name!r} per call")
        if not bind.required:
            defaults[name] = bind.value
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            binds.append((position, processor))
    if not names:
        values: Callable[[Mapping[str, Any]], Any] = lambda _params: ()  # noqa: E731
    elif len(names) == 1:
        values = lambda params, name=names[0]: (params[name],)  # noqa: E731
    else:
        values = itemgetter(*names)
    row, results = None, ()
    if compiled._result_columns:  # a SELECT, or RETURNING
        columns = compiled._result_columns  # (key, name, objects, type): what SQLAlchemy's rows are named by
        row = namedtuple("Row", [column[0] for column in columns], rename=True)  # type: ignore[misc]
        processors = tuple(_result_processor(column[3], column[0], dialect) for column in columns)
        results = processors if any(processors) else ()
    text = str(compiled)
    return _Plan(text.encode(), text, values, defaults, tuple(binds), row, results)


def _result_processor(type_: Any, key: str, dialect: Any) -> Callable[[Any], Any] | None:
    """The column's result processor, which must not depend on the driver's column type code
    (:func:`execute` reads no cursor description); else the statement is refused."""
    try:
        return type_.dialect_impl(dialect).result_processor(dialect, None)
    except Exception as exc:
        raise ValueError(f"a fast statement cannot return column {key!r} of type {type_!r}") from exc

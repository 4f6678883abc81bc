"""Several writes of one transaction step as ONE PostgreSQL statement (data-modifying CTEs).

A round trip costs more than the statement it carries, so the hot paths (a gateway's authorize
or capture, a stock conversion) gather their writes here and send them together::

    writes = CombinedWrite(utcnow())
    writes.update(Payment.__table__, payment_id, {"status": "captured"})
    writes.note(order_id, "payment_captured", "payme", "system")
    writes.emit("payment.captured", payload)
    writes.settle(order_id, "sell")          # the order's held stock becomes sold
    writes.dml(plugin_update, {"b_id": ...})  # a plugin's own row, in the same statement
    writes.execute(session)

Every part is built from the table objects (the outbox row exactly as :func:`~toolbox_core.events.emit`
writes it, the history entry as :func:`~toolbox_core.orders.service.note` does), once per *shape*
(which parts, which columns): the statement is cached and only parameters change between calls.
All parts see the same snapshot and the rows the caller already locked; a part may not read
what another part writes (PostgreSQL's rule for data-modifying CTEs), so each row is written
by one part only. PostgreSQL only: on SQLite the callers keep their statement-by-statement path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Table,
    Text,
    and_,
    bindparam,
    cast,
    collate,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from toolbox_core.db.sql import greatest
from toolbox_core.events import EMITTED_KEY
from toolbox_core.events.models import OutboxEvent
from toolbox_core.ids import new_id
from toolbox_core.inventory.models import InventoryLevel, InventoryReservation
from toolbox_core.orders.models import OrderHistory

_HISTORY, _OUTBOX = OrderHistory.__table__, OutboxEvent.__table__
_RESERVATIONS, _LEVELS = InventoryReservation.__table__, InventoryLevel.__table__


def history_values(order_id: str, kind: str, message: str, actor: str, at: datetime) -> dict[str, Any]:
    """The ``order_history`` row of one entry (what :func:`~toolbox_core.orders.service.note` writes)."""
    return {"order_id": order_id, "at": at, "kind": kind, "message": message, "actor": actor}


def outbox_values(event_id: str, name: str, payload: Any, at: datetime, version: int = 1) -> dict[str, Any]:
    """The ``outbox_events`` row of one event (what :func:`~toolbox_core.events.emit` writes)."""
    return {"id": event_id, "name": name, "version": version, "payload": payload, "occurred_at": at}


#: How a settlement changes each level row by the settled quantity ``q`` (see :meth:`CombinedWrite.settle`).
SETTLE_CHANGES: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "release": lambda levels, q: {"reserved": levels.c.reserved - q},
    "sell": lambda levels, q: {"reserved": levels.c.reserved - q,
                               "stocked": greatest(levels.c.stocked - q, 0)},
    "restock": lambda levels, q: {"stocked": levels.c.stocked + q},
}
#: (current status, new status, event reason) of the reservations, per settlement.
SETTLEMENTS = {"release": ("active", "released", "released"), "sell": ("active", "converted", "sold"),
               "restock": ("converted", "restocked", "restocked")}

_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LIMIT = 512


def _p(prefix: str, name: str, **kw: Any) -> Any:
    return bindparam(f"{prefix}{name}", **kw)


class CombinedWrite:
    """Writes gathered into one statement; see the module documentation."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._shape: list[Any] = []
        self._builders: list[Callable[[str], Any]] = []
        self._params: dict[str, Any] = {"cw_at": at}
        self._settled = False
        self._returning: int | None = None
        self.emitted = False

    def __bool__(self) -> bool:
        return bool(self._shape)

    def _add(self, key: Any, build: Callable[[str], Any], params: Mapping[str, Any]) -> str:
        prefix = f"cw{len(self._shape)}_"
        self._shape.append(key)
        self._builders.append(build)
        self._params.update({f"{prefix}{k}": v for k, v in params.items()})
        return prefix

    def update(self, table: Table, row_id: str, values: Mapping[str, Any]) -> None:
        """``UPDATE table SET values, updated_at WHERE id = row_id``."""
        keys = tuple(values)

        def build(prefix: str) -> Any:
            sets = {k: _p(prefix, k, type_=table.c[k].type) for k in keys}
            if "updated_at" in table.c and "updated_at" not in sets:
                sets["updated_at"] = bindparam("cw_at", type_=table.c.updated_at.type)
            return update(table).where(table.c.id == _p(prefix, "id")).values(sets)

        self._add(("update", table.name, keys), build, {**values, "id": row_id})

    def insert(self, table: Table, values: Mapping[str, Any]) -> None:
        """``INSERT INTO table (values)`` (every column you give, the others get their server default)."""
        keys = tuple(values)
        self._add(("insert", table.name, keys),
                  lambda prefix: insert(table).values({k: _p(prefix, k, type_=table.c[k].type) for k in keys}),
                  values)

    def note(self, order_id: str, kind: str, message: str = "", actor: str = "system") -> None:
        """An order history entry (as :func:`~toolbox_core.orders.service.note`), at this write's moment."""
        values = history_values(order_id, kind, message, actor, self.at)
        self.insert(_HISTORY, values)

    def emit(self, name: str, payload: dict[str, Any], *, version: int = 1) -> str:
        """An outbox row (as :func:`~toolbox_core.events.emit`); returns the event id. The caller
        checks the name against the registry as for ``emit`` (see the registry test)."""
        event_id = new_id("evt")
        self.insert(_OUTBOX, outbox_values(event_id, name, payload, self.at, version))
        self.emitted = True
        return event_id

    def dml(self, statement: UpdateBase, params: Mapping[str, Any], *, returning: bool = False) -> None:
        """A caller's own ``INSERT`` / ``UPDATE`` / ``DELETE`` (a Core statement built once, with
        named ``bindparam`` s whose names do not start with ``cw``), run in the same statement.

        ``returning=True`` (a statement with ``RETURNING``, at most one per write): :meth:`execute`
        returns its rows (instead of a settlement's SKUs)."""
        if returning and self._returning is not None:
            raise ValueError("one returning statement per combined write")
        if returning:
            self._returning = len(self._shape)
        self._add(("dml", statement, returning), lambda prefix: statement, {})
        self._params.update(params)

    def settle(self, order_id: str, change: str) -> None:
        """Settle the order's reservations: ``release`` (held stock back to available),
        ``sell`` (held stock leaves the shelf) or ``restock`` (sold stock back on the shelf).

        The reservations move to their new status (row-locked by that UPDATE, so a second
        settlement finds none), their level rows are locked in (sku, location) order — the order
        :func:`~toolbox_core.inventory.service.reserve` locks them in, so no dead-lock — and
        changed by the summed quantities, and ``inventory.updated`` is written (SKUs in code-point
        order) if anything moved. :meth:`execute` then returns the settled SKUs. One per statement.
        """
        if self._settled:
            raise ValueError("one settlement per combined write")
        self._settled = True
        self._add(("settle", change), lambda prefix: _settle_parts(prefix, change),
                  {"order": order_id, "event": new_id("evt")})
        self.emitted = True  # when nothing moves no row is written: waking the relay is harmless

    def statement(self) -> tuple[Any, dict[str, Any]]:
        """The statement (built once per shape) and its parameters."""
        key = tuple(self._shape)
        stmt = _CACHE.get(key)
        if stmt is None:
            ctes, final = [], None
            for index, build in enumerate(self._builders):
                part = build(f"cw{index}_")
                if isinstance(part, tuple):  # a settlement: its CTEs and the SELECT of its SKUs
                    ctes.extend(part[0])
                    final = part[1] if self._returning is None else final
                else:
                    ctes.append(part.cte(f"w{index}"))
                    if index == self._returning:
                        final = select(*ctes[-1].c)
            stmt = (final if final is not None else select(literal(1))).add_cte(*ctes)
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()
            _CACHE[key] = stmt
        return stmt, self._params

    def execute(self, session: Session) -> list[Any]:
        """Run every part in one round trip; returns the rows of the ``returning`` statement, else
        the settled SKUs (sorted) if a settlement was asked, else nothing."""
        if not self._shape:
            return []
        stmt, params = self.statement()
        rows = session.connection().execute(stmt, params).all()
        if self.emitted:
            session.info[EMITTED_KEY] = True
        if self._returning is not None:
            return list(rows)
        return sorted(row[0] for row in rows) if self._settled else []


def _settle_parts(prefix: str, change: str) -> tuple[list[Any], Any]:
    current, new, reason = SETTLEMENTS[change]
    r, levels = _RESERVATIONS, _LEVELS
    at = bindparam("cw_at", type_=r.c.settled_at.type)
    moved = (update(r).where(r.c.order_id == _p(prefix, "order"), r.c.status == current)
             .values(status=new, settled_at=at).returning(r.c.sku, r.c.location_id, r.c.quantity)
             .cte(f"{prefix}r"))
    summed = (select(moved.c.sku, moved.c.location_id, func.sum(moved.c.quantity).label("qty"))
              .group_by(moved.c.sku, moved.c.location_id).cte(f"{prefix}q"))
    locked = (select(levels.c.sku, levels.c.location_id, summed.c.qty)
              .join(summed, and_(levels.c.sku == summed.c.sku, levels.c.location_id == summed.c.location_id))
              .order_by(levels.c.sku, levels.c.location_id).with_for_update(of=levels)
              .cte(f"{prefix}k").prefix_with("MATERIALIZED"))
    changed = (update(levels).where(levels.c.sku == locked.c.sku, levels.c.location_id == locked.c.location_id)
               .values(**SETTLE_CHANGES[change](levels, locked.c.qty),
                       updated_at=bindparam("cw_at", type_=levels.c.updated_at.type))
               .cte(f"{prefix}u"))
    skus = select(collate(moved.c.sku, "C").label("sku")).distinct().cte(f"{prefix}s")
    payload = func.jsonb_build_object("skus", func.jsonb_agg(aggregate_order_by(skus.c.sku, skus.c.sku)),
                                      "reason", reason, "order_id", cast(_p(prefix, "order"), Text))
    row = outbox_values(_p(prefix, "event"), literal("inventory.updated"), payload,
                        bindparam("cw_at", type_=_OUTBOX.c.occurred_at.type), literal(1))  # type: ignore[arg-type]
    event = (insert(_OUTBOX).from_select(list(row), select(*row.values()).select_from(skus)
                                         .having(func.count() > 0))
             .cte(f"{prefix}e"))
    return [moved, summed, locked, changed, skus, event], select(skus.c.sku)

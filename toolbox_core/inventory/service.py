"""Stock: available = stocked − reserved, reserved with an atomic conditional UPDATE.

Reservation locks the SKUs' level rows (``SELECT ... FOR UPDATE`` in SKU order) and then
holds with a conditional ``UPDATE ... SET reserved = reserved + q WHERE stocked - reserved >= q``,
so concurrent checkouts can never sell the same unit twice (SQLite serializes writers). An order
holds each SKU at one location (the one with the most available), so a cart line may ask for no
more than that location has (the ``holdable`` of :mod:`toolbox_core.catalog.snapshots`). Bulk stock updates
(:mod:`toolbox_core.inventory.sync`) only write ``stocked`` and therefore never lose a reservation made meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from toolbox_core.db.base import utcnow
from toolbox_core.errors import Conflict, InvalidInput
from toolbox_core.events import emit
from toolbox_core.ids import new_id
from toolbox_core.inventory.models import InventoryLevel, InventoryReservation, StockLocation
from toolbox_core.orders.combined import SETTLE_CHANGES, SETTLEMENTS, CombinedWrite
from toolbox_core.providers import StockLevel


class OutOfStock(Conflict):
    code = "out_of_stock"


@dataclass(frozen=True)
class LevelView:
    sku: str
    location_code: str
    stocked: int
    reserved: int

    @property
    def available(self) -> int:
        return self.stocked - self.reserved


def available_by_sku(session: Session, skus: Iterable[str]) -> dict[str, int]:
    """Available quantity per SKU over all locations (absent SKUs: 0)."""
    skus = sorted(set(skus))
    if not skus:
        return {}
    rows = session.execute(
        select(InventoryLevel.sku, func.sum(InventoryLevel.stocked - InventoryLevel.reserved))
        .where(InventoryLevel.sku.in_(skus))
        .group_by(InventoryLevel.sku)
    ).all()
    found = {sku: int(total or 0) for sku, total in rows}
    return {sku: max(0, found.get(sku, 0)) for sku in skus}


def levels(session: Session, sku: str) -> list[LevelView]:
    rows = session.execute(
        select(InventoryLevel, StockLocation.code)
        .join(StockLocation, StockLocation.id == InventoryLevel.location_id)
        .where(InventoryLevel.sku == sku)
        .order_by(StockLocation.code)
    ).all()
    return [LevelView(level.sku, code, level.stocked, level.reserved) for level, code in rows]


_LOCK_LEVELS = (
    select(InventoryLevel.sku, InventoryLevel.location_id, InventoryLevel.stocked - InventoryLevel.reserved)
    .where(InventoryLevel.sku.in_(bindparam("skus", expanding=True)))
    .order_by(InventoryLevel.sku, InventoryLevel.location_id)
    .with_for_update()
)
_INSERT_RESERVATIONS = insert(InventoryReservation.__table__)


def _lock_levels(session: Session, skus: list[str]) -> list[tuple[str, str, int]]:
    """``(sku, location_id, available)`` of every level of ``skus``, row-locked in one statement.

    Rows are locked in (sku, location) order, the same order for every checkout, so two
    checkouts never dead-lock; on SQLite the writer lock (``BEGIN IMMEDIATE``) already serializes.
    """
    rows = session.execute(_LOCK_LEVELS, {"skus": skus}).all()
    return [(sku, location, int(available)) for sku, location, available in rows]


def _best_locations(levels: list[tuple[str, str, int]], wanted: dict[str, int]) -> dict[str, str]:
    """For each SKU, the location with the most available stock if it covers the wanted quantity."""
    best: dict[str, tuple[int, str]] = {}
    for sku, location, available in levels:
        if available >= wanted[sku] and (sku not in best or available > best[sku][0]):
            best[sku] = (available, location)
    return {sku: location for sku, (_, location) in best.items()}


def _add_available(short: list[dict[str, Any]], levels: list[tuple[str, str, int]]) -> None:
    """Set ``available`` on each short item: the most one order can hold now (one location holds a
    SKU), bounded to ``0..requested - 1`` so the answer never discloses the whole stock."""
    most: dict[str, int] = {}
    for sku, _, available in levels:
        most[sku] = max(most.get(sku, 0), available)
    for item in short:
        item["available"] = max(0, min(most.get(item["sku"], 0), item["requested"] - 1))


_HOLD = (
    update(InventoryLevel.__table__)
    .where(InventoryLevel.sku == bindparam("b_sku"), InventoryLevel.location_id == bindparam("b_location"),
           InventoryLevel.stocked - InventoryLevel.reserved >= bindparam("b_qty"))
    .values(reserved=InventoryLevel.reserved + bindparam("b_qty"))
)


#: PostgreSQL: every hold and every reservation in one statement. The reservations are written
#: only if every level held (``held`` = ``:count``); the caller raises and rolls back otherwise.
_HOLD_AND_RESERVE_PG = text("""
WITH wanted AS (
    SELECT * FROM unnest(CAST(:skus AS varchar[]), CAST(:locations AS varchar[]),
                         CAST(:quantities AS integer[]), CAST(:ids AS varchar[]))
        AS w(sku, location_id, quantity, id)
), held AS (
    UPDATE inventory_levels AS l SET reserved = l.reserved + w.quantity
    FROM wanted AS w
    WHERE l.sku = w.sku AND l.location_id = w.location_id AND l.stocked - l.reserved >= w.quantity
    RETURNING l.sku
), reserved AS (
    INSERT INTO inventory_reservations (id, order_id, sku, location_id, quantity, status)
    SELECT w.id, :order_id, w.sku, w.location_id, w.quantity, 'active' FROM wanted AS w
    WHERE (SELECT count(*) FROM held) = :count
)
SELECT count(*) FROM held
""")


def reserve(session: Session, order_id: str, wanted: dict[str, int]) -> None:
    """Reserve ``{sku: quantity}`` for ``order_id`` or raise :class:`OutOfStock` (409).

    Few round trips however many SKUs, because every checkout competes for these rows and holds
    their locks until COMMIT: lock all the SKUs' levels (sorted, one ``SELECT ... FOR UPDATE``),
    then hold each SKU at its location with the most available stock (a conditional ``UPDATE``)
    and insert the reservations: one statement on PostgreSQL, a batched ``UPDATE`` and a batched
    ``INSERT`` on SQLite. On failure the caller's transaction rolls back.
    """
    skus = sorted(wanted)
    levels = _lock_levels(session, skus)
    chosen = _best_locations(levels, wanted)
    short = [{"sku": sku, "requested": wanted[sku]} for sku in skus if sku not in chosen]
    if short:
        _add_available(short, levels)
        raise OutOfStock("not enough stock for some items", details={"items": short})
    if session.get_bind().dialect.name == "postgresql":
        held = session.connection().execute(_HOLD_AND_RESERVE_PG, {
            "skus": skus, "locations": [chosen[sku] for sku in skus], "quantities": [wanted[sku] for sku in skus],
            "ids": [new_id("resv") for _ in skus], "order_id": order_id, "count": len(skus)}).scalar_one()
        if held != len(skus):  # cannot happen under the locks
            raise OutOfStock("not enough stock for some items", details={"items": [{"sku": s} for s in skus]})
        return
    holds = [{"b_sku": sku, "b_location": chosen[sku], "b_qty": wanted[sku]} for sku in skus]
    if session.connection().execute(_HOLD, holds).rowcount != len(holds):  # cannot happen under the locks
        raise OutOfStock("not enough stock for some items", details={"items": [{"sku": s} for s in skus]})
    session.execute(_INSERT_RESERVATIONS, [
        {"id": new_id("resv"), "order_id": order_id, "sku": sku, "location_id": chosen[sku],
         "quantity": wanted[sku], "status": "active"}
        for sku in skus
    ])


def settle(session: Session, order_id: str, change: str) -> list[str]:
    """Settle an order's reservations — ``release`` (held stock becomes available again), ``sell``
    (held stock leaves the shelf: ``reserved`` and ``stocked`` both drop, ``stocked`` never below
    0) or ``restock`` (sold stock goes back on the shelf) — and emit ``inventory.updated`` (reason
    ``released`` / ``sold`` / ``restocked``) if anything moved; returns the SKUs touched (sorted).
    Idempotent: settled reservations are never settled again.

    The one mechanism behind :func:`release`, :func:`convert` and :func:`restock`. On PostgreSQL one
    statement (:meth:`~toolbox_core.orders.combined.CombinedWrite.settle`, which a capture folds
    into its own write); on SQLite, whose writer lock serializes transactions, three: the
    reservations (``UPDATE ... RETURNING``), the levels (one batch), the event.
    """
    current, new, reason = SETTLEMENTS[change]
    at = utcnow()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        writes = CombinedWrite(at)
        writes.settle(order_id, change)
        return writes.execute(session)
    moved: dict[tuple[str, str], int] = {}
    for sku, location, quantity in connection.execute(_SETTLE_RESERVATIONS, {"b_order": order_id, "b_at": at,
                                                                              "b_current": current, "b_new": new}):
        moved[(sku, location)] = moved.get((sku, location), 0) + quantity
    if not moved:
        return []
    connection.execute(_LEVEL_CHANGES[change], [{"b_sku": sku, "b_location": location, "b_qty": qty, "b_at": at}
                                                for (sku, location), qty in sorted(moved.items())])
    skus = sorted({sku for sku, _ in moved})
    emit(session, "inventory.updated", {"skus": skus, "reason": reason, "order_id": order_id})
    return skus


_R = InventoryReservation.__table__
_SETTLE_RESERVATIONS = (
    update(_R).where(_R.c.order_id == bindparam("b_order"), _R.c.status == bindparam("b_current"))
    .values(status=bindparam("b_new"), settled_at=bindparam("b_at"))
    .returning(_R.c.sku, _R.c.location_id, _R.c.quantity)
)
_L = InventoryLevel.__table__
#: SQLite's batched level change per settlement (the same change as PostgreSQL's combined write).
_LEVEL_CHANGES = {
    change: update(_L).where(_L.c.sku == bindparam("b_sku"), _L.c.location_id == bindparam("b_location"))
    .values(**SETTLE_CHANGES[change](_L, bindparam("b_qty")), updated_at=bindparam("b_at"))
    for change in SETTLEMENTS
}


def release(session: Session, order_id: str) -> list[str]:
    """Give back the active reservations of an order; returns the SKUs touched."""
    return settle(session, order_id, "release")


def convert(session: Session, order_id: str) -> list[str]:
    """Turn the active reservations of an order into sales (stocked and reserved both drop);
    emits ``inventory.updated`` (reason ``sold``) and returns the SKUs touched. Idempotent."""
    return settle(session, order_id, "sell")


def restock(session: Session, order_id: str) -> list[str]:
    """Put the sold units of a canceled order back on the shelf (converted reservations)."""
    return settle(session, order_id, "restock")


def apply_levels(session: Session, stock: Iterable[StockLevel], *, source: str = "admin") -> list[str]:
    """Set absolute stocked quantities of catalog SKUs; ``reserved`` is never written, so no hold is lost.

    The same mechanism as a source sync (:func:`toolbox_core.inventory.sync.apply_stock_batch`,
    one bulk statement per 10,000 levels, only changed levels written, one ``inventory.updated``
    per batch with the changed SKUs), except that a SKU not in the catalog is refused (422
    ``unknown_sku``) rather than counted. Returns the SKUs whose level changed.
    """
    from toolbox_core.inventory.sync import MAX_BATCH, apply_stock_batch

    items = list(stock)
    changed: list[str] = []
    for start in range(0, len(items), MAX_BATCH):
        result = apply_stock_batch(session, items[start:start + MAX_BATCH], source=source, sales_lag_seconds=0)
        if result.unknown:
            raise InvalidInput("some SKUs are not in the catalog", code="unknown_sku",
                               details={"skus": result.unknown[:50]})
        changed.extend(result.changed)
    return sorted(set(changed))


def sync_from_sources(toolbox: object) -> dict[str, int]:
    """Sync every inventory source batch by batch (see :func:`toolbox_core.inventory.sync.sync_source`).

    Returns the number of changed levels per source; the full reports are logged.
    """
    import logging

    from toolbox_core.inventory.sync import sync_source

    counts: dict[str, int] = {}
    for source_id, source in toolbox.inventory_sources.items():  # type: ignore[attr-defined]
        report = sync_source(toolbox, source)
        logging.getLogger("toolbox.inventory").info("inventory source %s: %s", source_id, report.as_dict())
        counts[source_id] = report.changed
    return counts

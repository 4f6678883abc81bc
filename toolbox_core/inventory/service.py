"""Stock: available = stocked − reserved, reserved with an atomic conditional UPDATE.

Reservation locks the SKUs' level rows (``SELECT ... FOR UPDATE`` in SKU order) and then
holds with a conditional ``UPDATE ... SET reserved = reserved + q WHERE stocked - reserved >= q``,
so concurrent checkouts can never sell the same unit twice (SQLite serializes writers). An order
holds each SKU at one location (the one with the most available), so a cart line may ask for no
more than that location has (the ``holdable`` of :mod:`toolbox_core.catalog.snapshots`). Bulk stock updates
(:mod:`toolbox_core.inventory.sync`) only write ``stocked`` and therefore never lose a reservation made meanwhile.

On PostgreSQL a checkout holds its stock inside the one statement that places the order
(:func:`holding_ctes`): the level rows every checkout competes for stay locked only while that
statement runs, not across round trips.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
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


#: The SKUs' levels, ``(sku, location_id, available)`` in (sku, location) order.
_LEVELS_OF = (
    select(InventoryLevel.sku, InventoryLevel.location_id, InventoryLevel.stocked - InventoryLevel.reserved)
    .where(InventoryLevel.sku.in_(bindparam("skus", expanding=True)))
    .order_by(InventoryLevel.sku, InventoryLevel.location_id)
)
_LOCK_LEVELS = _LEVELS_OF.with_for_update()
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


def reserve(session: Session, order_id: str, wanted: dict[str, int]) -> None:
    """Reserve ``{sku: quantity}`` for ``order_id`` or raise :class:`OutOfStock` (409); SQLite,
    and tests. (A PostgreSQL checkout holds its stock inside the statement that places the order:
    :func:`holding_ctes`.)

    Lock all the SKUs' levels (sorted, one ``SELECT ... FOR UPDATE``), then hold each SKU at its
    location with the most available stock (one batched conditional ``UPDATE``) and insert the
    reservations (one batched ``INSERT``). On failure the caller's transaction rolls back.
    """
    skus = sorted(wanted)
    levels = _lock_levels(session, skus)
    chosen = _best_locations(levels, wanted)
    short = _shortfall(levels, wanted, chosen)
    if short:
        raise OutOfStock("not enough stock for some items", details={"items": short})
    holds = [{"b_sku": sku, "b_location": chosen[sku], "b_qty": wanted[sku]} for sku in skus]
    if session.connection().execute(_HOLD, holds).rowcount != len(holds):  # cannot happen under the locks
        raise OutOfStock("not enough stock for some items", details={"items": [{"sku": s} for s in skus]})
    session.execute(_INSERT_RESERVATIONS, [
        {"id": new_id("resv"), "order_id": order_id, "sku": sku, "location_id": chosen[sku],
         "quantity": wanted[sku], "status": "active"}
        for sku in skus
    ])


def _shortfall(levels: list[tuple[str, str, int]], wanted: dict[str, int],
               chosen: dict[str, str]) -> list[dict[str, Any]]:
    """The SKUs no single location can hold, as the 409's ``items`` (``sku``, ``requested``, ``available``)."""
    short = [{"sku": sku, "requested": wanted[sku]} for sku in sorted(wanted) if sku not in chosen]
    _add_available(short, levels)
    return short


def shortage(db: Session | Connection, wanted: dict[str, int]) -> list[dict[str, Any]]:
    """What of ``{sku: quantity}`` cannot be held now (read, not locked): the 409's ``items``,
    empty when all of it can. For a caller whose one-statement hold (:func:`holding_ctes`) found
    too little, to explain the refusal."""
    conn = db.connection() if isinstance(db, Session) else db
    levels = [(sku, location, int(available))
              for sku, location, available in conn.execute(_LEVELS_OF, {"skus": sorted(wanted)})]
    return _shortfall(levels, wanted, _best_locations(levels, wanted))


def holding_ctes(gate: Any) -> tuple[Any, Any]:
    """PostgreSQL: the parts of ONE statement that hold stock, all or nothing, for a caller that
    writes the rest of its work (an order) in the same statement: ``(chosen, held)``.

    The wanted stock comes as parameters ``w_skus``, ``w_quantities`` (arrays, one entry per SKU),
    ``w_ids`` (the reservation ids) and ``w_count`` (the number of SKUs). Only if ``gate`` (a CTE
    of the caller's, e.g. its locked cart) has a row: the SKUs' level rows are locked in
    (sku, location) order (the order :meth:`~toolbox_core.orders.combined.CombinedWrite.settle`
    locks them in, so no dead-lock), ``chosen`` is, per SKU, the location with the most available
    stock that covers the quantity (``sku, location_id, quantity, id``), and ``held`` (``UPDATE ...
    RETURNING sku``) adds the quantities to ``reserved`` only if every SKU was chosen. The values
    locked are the rows' newest versions (PostgreSQL re-reads a row a concurrent writer changed
    before locking it), so what ``chosen`` counts is what is there: no unit is sold twice. Write
    the reservations with :func:`reservations_insert` and the rest of the work only when ``held``
    has ``w_count`` rows; ``(SELECT count(*) FROM chosen) < w_count`` means out of stock (see
    :func:`shortage`)."""
    levels = InventoryLevel.__table__
    skus = bindparam("w_skus", type_=ARRAY(String))
    wanted = select(func.unnest(skus).label("sku"),
                    func.unnest(bindparam("w_quantities", type_=ARRAY(Integer))).label("quantity"),
                    func.unnest(bindparam("w_ids", type_=ARRAY(String))).label("id")).cte("w")
    locked = (select(levels.c.sku, levels.c.location_id, (levels.c.stocked - levels.c.reserved).label("available"))
              .where(levels.c.sku == any_(skus), select(gate).exists())
              .order_by(levels.c.sku, levels.c.location_id).with_for_update(of=levels).cte("k"))
    fullest_first = func.row_number().over(partition_by=locked.c.sku,
                                           order_by=(locked.c.available.desc(), locked.c.location_id))
    ranked = (select(locked.c.sku, locked.c.location_id, wanted.c.quantity, wanted.c.id, fullest_first.label("rank"))
              .join_from(locked, wanted, wanted.c.sku == locked.c.sku)
              .where(locked.c.available >= wanted.c.quantity).subquery("ranked"))
    chosen = select(ranked.c.sku, ranked.c.location_id, ranked.c.quantity, ranked.c.id).where(ranked.c.rank == 1).cte("ch")
    every_sku = select(func.count()).select_from(chosen).scalar_subquery() == bindparam("w_count")
    held = (update(levels).where(levels.c.sku == chosen.c.sku, levels.c.location_id == chosen.c.location_id,
                                 every_sku)
            .values(reserved=levels.c.reserved + chosen.c.quantity, updated_at=func.now())
            .returning(levels.c.sku).cte("hd"))
    return chosen, held


def reservations_insert(chosen: Any, order_id: Any, when: Any) -> Any:
    """The ``INSERT`` of the reservations of :func:`holding_ctes`' ``chosen`` rows for ``order_id``
    (a bound parameter), only if ``when`` (a condition: the stock was held)."""
    r = InventoryReservation.__table__
    rows = select(chosen.c.id, order_id, chosen.c.sku, chosen.c.location_id, chosen.c.quantity,
                  literal("active")).where(when)
    return insert(r).from_select(["id", "order_id", "sku", "location_id", "quantity", "status"], rows)


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

"""Batched, changed-only stock sync from inventory sources (MoySklad and the like).

:func:`apply_stock_batch` applies one batch of absolute levels in the caller's transaction
with two statements whatever its size: one ``SELECT`` that classifies every level (unknown SKU,
unchanged, changed) against the catalog, the current level and recent sales, and one bulk
``INSERT ... ON CONFLICT DO UPDATE ... WHERE stocked <> excluded.stocked`` of the changed ones
(PostgreSQL passes the batch as arrays through ``unnest``, SQLite as one JSON array), written in
(SKU, location) order like checkouts lock them. ``reserved`` is never written.

:func:`sync_source` streams a source batch by batch, one short transaction per batch, and
returns a :class:`SyncReport`. The rules are documented on
:class:`toolbox_core.providers.InventorySource`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import DateTime, bindparam, literal_column, select, text
from sqlalchemy.orm import Session

from toolbox_core.db.base import utcnow
from toolbox_core.db.sql import greatest
from toolbox_core.errors import InvalidInput
from toolbox_core.events import emit
from toolbox_core.inventory.locations import location_id
from toolbox_core.inventory.models import StockLocation
from toolbox_core.jobs.lease import ensure_lease_held
from toolbox_core.jobs.progress import Progress
from toolbox_core.providers import StockBatch, StockLevel

#: The largest batch :func:`apply_stock_batch` takes (bounded parameters and memory).
MAX_BATCH = 10_000
#: How many SKUs a report lists by name per category (counts are always complete).
SAMPLE_SIZE = 50


@dataclass
class BatchResult:
    """What one batch did (or, in a dry run, would do)."""

    received: int = 0
    matched: int = 0
    unchanged: int = 0
    #: SKUs whose level was (would be) written, sorted.
    changed: list[str] = field(default_factory=list)
    #: SKUs not in the catalog: never written.
    unknown: list[str] = field(default_factory=list)
    #: Changed SKUs whose new figure is below what is reserved (written and reported).
    below_reserved: list[str] = field(default_factory=list)
    #: Levels that went from a positive figure to 0.
    zeroed: int = 0
    #: The same (SKU, location) given more than once in the batch (the last one counts).
    duplicates: int = 0


@dataclass
class SyncReport:
    """The outcome of a sync run: counts over every batch, and a sample of the SKUs."""

    source: str
    dry_run: bool = False
    full: bool = False
    batches: int = 0
    received: int = 0
    matched: int = 0
    changed: int = 0
    unchanged: int = 0
    unknown: int = 0
    #: Catalog SKUs the source did not report (full runs only; ``None`` otherwise).
    missing: int | None = None
    zeroed: int = 0
    below_reserved: int = 0
    duplicates: int = 0
    cursor: str | None = None
    seconds: float = 0.0
    changed_sample: list[str] = field(default_factory=list)
    unknown_sample: list[str] = field(default_factory=list)
    missing_sample: list[str] = field(default_factory=list)
    below_reserved_sample: list[str] = field(default_factory=list)

    def add(self, batch: BatchResult) -> None:
        self.batches += 1
        self.received += batch.received
        self.matched += batch.matched
        self.changed += len(batch.changed)
        self.unchanged += batch.unchanged
        self.unknown += len(batch.unknown)
        self.zeroed += batch.zeroed
        self.below_reserved += len(batch.below_reserved)
        self.duplicates += batch.duplicates
        for sample, names in ((self.changed_sample, batch.changed), (self.unknown_sample, batch.unknown),
                              (self.below_reserved_sample, batch.below_reserved)):
            sample.extend(names[: max(0, SAMPLE_SIZE - len(sample))])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------- SQL
_INCOMING = {
    "postgresql": ("SELECT * FROM unnest(CAST(:skus AS varchar[]), CAST(:locs AS varchar[]), "
                   "CAST(:qty AS integer[])) AS t(sku, location_id, stocked)"),
    "sqlite": ("SELECT json_extract(value, '$[0]') AS sku, json_extract(value, '$[1]') AS location_id, "
               "json_extract(value, '$[2]') AS stocked FROM json_each(:rows)"),
}
#: A level's figure: the source's, less what sold here since the source counted, never below 0.
_TARGET = greatest(literal_column("i.stocked - COALESCE(s.q, 0)"), literal_column("0"))

_CLASSIFY = """
WITH i AS ({incoming}),
sold AS (
  SELECT r.sku, r.location_id, SUM(r.quantity) AS q FROM inventory_reservations r
  WHERE r.status = 'converted' AND r.settled_at >= :cutoff AND r.sku IN (SELECT sku FROM i)
  GROUP BY r.sku, r.location_id
),
c AS (
  SELECT i.sku, i.location_id, v.sku IS NOT NULL AS known,
         {target} AS target, l.stocked AS current, l.reserved AS reserved
  FROM i
  LEFT JOIN product_variants v ON v.sku = i.sku
  LEFT JOIN inventory_levels l ON l.sku = i.sku AND l.location_id = i.location_id
  LEFT JOIN sold s ON s.sku = i.sku AND s.location_id = i.location_id
)
SELECT sku, location_id, known, target, current, reserved FROM c
WHERE NOT known OR current IS NULL OR current <> target
"""

_WRITE = """
INSERT INTO inventory_levels (sku, location_id, stocked, reserved, created_at, updated_at)
SELECT i.sku, i.location_id, i.stocked, 0, :now, :now FROM ({incoming}) AS i WHERE true
ON CONFLICT (sku, location_id) DO UPDATE SET stocked = excluded.stocked, updated_at = excluded.updated_at
WHERE inventory_levels.stocked <> excluded.stocked
"""


def _dialect(session: Session) -> str:
    name = session.get_bind().dialect.name
    return "postgresql" if name == "postgresql" else "sqlite"


def _rows_params(dialect: str, rows: list[tuple[str, str, int]]) -> dict[str, Any]:
    if dialect == "postgresql":
        return {"skus": [r[0] for r in rows], "locs": [r[1] for r in rows], "qty": [r[2] for r in rows]}
    return {"rows": json.dumps(rows)}


def _location_ids(session: Session, codes: set[str], *, create: bool) -> dict[str, str]:

    found = dict(session.execute(select(StockLocation.code, StockLocation.id)
                                 .where(StockLocation.code.in_(codes))).all())
    for code in sorted(codes - set(found)):
        # A dry run writes nothing: a location that does not exist yet has no levels to compare.
        found[code] = location_id(session, code) if create else f"new:{code}"
    return found


def apply_stock_batch(session: Session, levels: Iterable[StockLevel], *, source: str, dry_run: bool = False,
                      as_of: datetime | None = None, sales_lag_seconds: int = 3600,
                      only_existing: bool = False) -> BatchResult:
    """Apply one batch of absolute levels in the caller's transaction; returns what it did.

    Only catalog SKUs are written and only where the figure changed; ``reserved`` is never
    written. Units sold here within ``sales_lag_seconds`` before ``as_of`` (default: now) are
    subtracted from the figures (see ``InventorySource``). ``only_existing`` skips SKUs that
    have no level row yet (used to zero missing SKUs). With ``dry_run`` nothing is written and
    no event is emitted. Emits one ``inventory.updated`` with the changed SKUs.
    """
    latest: dict[tuple[str, str], int] = {}
    received = 0
    for level in levels:
        quantity = level.quantity
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise InvalidInput(f"stock for {level.sku!r} must be a non-negative integer", code="invalid_quantity")
        latest[(level.sku, level.location_code)] = quantity
        received += 1
        if received > MAX_BATCH:
            raise InvalidInput(f"a stock batch holds at most {MAX_BATCH} levels", code="batch_too_large")
    result = BatchResult(received=received, duplicates=received - len(latest))
    if not latest:
        return result
    session.flush()  # variants added in this transaction count as catalog SKUs
    dialect = _dialect(session)
    locations = _location_ids(session, {code for _, code in latest}, create=not dry_run)
    rows = sorted((sku, locations[code], qty) for (sku, code), qty in latest.items())
    cutoff = (as_of or utcnow()) - timedelta(seconds=sales_lag_seconds)
    target = _TARGET.compile(dialect=session.get_bind().dialect)
    classify = text(_CLASSIFY.format(incoming=_INCOMING[dialect], target=target)).bindparams(
        bindparam("cutoff", type_=DateTime(timezone=True)))
    found = session.execute(classify, {"cutoff": cutoff, **_rows_params(dialect, rows)}).all()
    unknown: set[str] = set()
    changes: list[tuple[str, str, int]] = []
    below: set[str] = set()
    for sku, location, known, target, current, reserved in found:
        if not known:
            unknown.add(sku)
            continue
        if current is None and only_existing:
            continue
        changes.append((sku, location, int(target)))
        if current is not None and current > 0 and target == 0:
            result.zeroed += 1
        if reserved is not None and target < reserved:
            below.add(sku)
    changes.sort()
    result.matched = sum(1 for sku, _, _ in rows if sku not in unknown)
    result.unchanged = result.matched - len(changes) - _skipped(found, only_existing)
    result.changed = sorted({sku for sku, _, _ in changes})
    result.unknown = sorted(unknown)
    result.below_reserved = sorted(below)
    if changes and not dry_run:
        ensure_lease_held()  # a sync that lost its job lease must not race the next holder
        now = utcnow()
        write = text(_WRITE.format(incoming=_INCOMING[dialect])).bindparams(
            bindparam("now", type_=DateTime(timezone=True)))
        session.execute(write, {"now": now, **_rows_params(dialect, changes)})
        emit(session, "inventory.updated", {"skus": result.changed, "reason": source, "order_id": None})
    return result


def _skipped(found: list[Any], only_existing: bool) -> int:
    """Known levels left out because they have no row yet and only existing ones count."""
    if not only_existing:
        return 0
    return sum(1 for _, _, known, _, current, _ in found if known and current is None)


# ---------------------------------------------------------------------------- catalog
def catalog_size(session: Session) -> int:
    """How many SKUs the catalog has (one count, for "x of y matched" and zeroing guards)."""
    return int(session.execute(text("SELECT count(sku) FROM product_variants")).scalar_one())


def catalog_skus(session: Session, *, after: str | None = None, limit: int = 1000) -> list[str]:
    """Catalog SKUs in order, ``limit`` at a time after ``after`` (keyset paging, any catalog size)."""
    query = "SELECT sku FROM product_variants" + (" WHERE sku > :after" if after is not None else "")
    rows = session.execute(text(query + " ORDER BY sku LIMIT :limit"), {"after": after, "limit": limit})
    return [sku for (sku,) in rows]


def _chunks(items: Iterable[StockLevel], size: int) -> Iterator[tuple[StockLevel, ...]]:
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


def stream_of(source: Any, since: str | None, batch_size: int) -> Iterator[StockBatch]:
    """The batches of ``source``: its ``stream_levels(since)``, or ``fetch_levels()`` cut into batches."""
    from toolbox_core.asyncutil import resolve

    stream = getattr(source, "stream_levels", None)
    if stream is not None:
        for batch in resolve(stream(since)):
            for part in _chunks(batch.levels, min(batch_size, MAX_BATCH)):
                yield StockBatch(part, batch.cursor, batch.as_of)
        return
    for part in _chunks(resolve(source.fetch_levels()), batch_size):
        yield StockBatch(part)


# ---------------------------------------------------------------------------- runs
def sync_source(toolbox: Any, source: Any, *, since: str | None = None, dry_run: bool = False,
                full: bool | None = None, zero_missing: bool = False, progress: Progress | None = None,
                batches: Iterable[StockBatch] | None = None) -> SyncReport:
    """Stream ``source`` (or the given ``batches``) and apply it batch by batch, one transaction each.

    ``full`` (default: ``since is None``) means the source reported everything it knows, so
    catalog SKUs it did not report are counted as ``missing``; they are left alone unless
    ``zero_missing`` (then their existing levels are set to 0, counted in ``zeroed``). Never
    called inside a transaction: the source is read between batches. ``dry_run`` writes nothing.
    """
    settings = toolbox.settings.inventory
    started = time.perf_counter()
    full = since is None if full is None else full
    report = SyncReport(source=source.id, dry_run=dry_run, full=full)
    seen: set[str] = set()
    stream = batches if batches is not None else stream_of(source, since, settings.sync_batch_size)
    for batch in stream:
        with toolbox.db.transaction() as session:
            result = apply_stock_batch(session, batch.levels, source=source.id, dry_run=dry_run,
                                       as_of=batch.as_of, sales_lag_seconds=settings.sales_lag_seconds)
        report.add(result)
        report.cursor = batch.cursor or report.cursor
        if full:
            seen.update(level.sku for level in batch.levels)
        if progress is not None:
            progress.advance(len(batch.levels))
    if full:
        apply_missing(toolbox, report, seen, zero_missing=zero_missing, dry_run=dry_run)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def apply_missing(toolbox: Any, report: SyncReport, seen: set[str], *, zero_missing: bool,
                  dry_run: bool = False) -> None:
    """Count the catalog SKUs not in ``seen`` into ``report.missing`` (and, with ``zero_missing``,
    set their existing levels to 0, counted in ``zeroed``), in keyset chunks of the catalog.

    :func:`sync_source` calls it at the end of a full run; a plugin that classifies batches itself
    (``apply_stock_batch`` as it streams) calls it with the SKUs it saw."""
    settings = toolbox.settings.inventory
    report.missing, after = 0, None
    while True:
        with toolbox.db.session() as session:
            chunk = catalog_skus(session, after=after, limit=settings.sync_batch_size)
        if not chunk:
            return
        after = chunk[-1]
        missing = [sku for sku in chunk if sku not in seen]
        report.missing += len(missing)
        report.missing_sample.extend(missing[: max(0, SAMPLE_SIZE - len(report.missing_sample))])
        if zero_missing and missing:
            with toolbox.db.transaction() as session:
                result = apply_stock_batch(session, [StockLevel(sku, 0) for sku in missing], source=report.source,
                                           dry_run=dry_run, sales_lag_seconds=0, only_existing=True)
            report.zeroed += result.zeroed
            report.changed += len(result.changed)

"""Stock from MoySklad: fetch and stage page by page, check the zeroing guard, apply in batches.

A run has three phases, each safe to repeat:

1. **fetch and stage** — full runs follow ``/report/stock/all`` page by page (``nextHref``,
   ``limit`` 1000, ``quantityMode=all`` so zero rows are listed too); incremental runs read
   ``/report/stock/all/current?changedSince=`` (or a webhook's ``reportUrl``). Each page is
   upserted into ``moysklad_items`` with one statement, together with the run's progress
   (``next_href``), so a run that dies resumes at the page it was on. A page is fetched while
   the previous one is written; at most two pages are held in memory.
2. **dry run** of the staged figures through the kernel (:func:`toolbox_core.api.sync_source`,
   ``dry_run=True``): if it would zero more than ``max_zero_share`` of the catalog the run stops
   here, before writing anything, is recorded as ``blocked`` and emits ``moysklad.sync_blocked``.
3. **apply** the same batches for real (one transaction and one bulk statement per 1000
   levels, changed levels only, reservations kept); the report is stored with the run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy import func, select, text, update

from toolbox_core.api import (
    InvalidInput,
    Progress,
    StockBatch,
    StockLevel,
    SyncReport,
    Toolbox,
    apply_missing,
    apply_stock_batch,
    catalog_size,
    emit,
    new_id,
    sync_source,
    upsert,
    utcnow,
)
from toolbox_moysklad.client import MoySkladClient
from toolbox_moysklad.models import MoySkladItem, MoySkladSyncRun
from toolbox_moysklad.settings import MoySkladSettings

log = logging.getLogger("toolbox.moysklad")

JOB_NAME = "moysklad.sync"
SOURCE_ID = "moysklad"
#: MoySklad's moments are Moscow time.
MSK = timezone(timedelta(hours=3))
#: ``changedSince`` may reach at most 24 h back.
MAX_CHANGED_SINCE = timedelta(hours=24)
#: Largest figure we store (the level column is a 32-bit integer).
MAX_FIGURE = 1_000_000_000
SKU_MAX_LENGTH = 100


_PG_STAGE_SELECT = """
INSERT INTO moysklad_items (assortment_id, sku, figure, seen_run, page)
SELECT t.a, t.s, t.f, :run, :page FROM unnest(CAST(:ids AS varchar[]), CAST(:skus AS varchar[]),
                                              CAST(:figures AS integer[])) AS t(a, s, f)
ON CONFLICT (assortment_id) DO UPDATE SET figure = excluded.figure, seen_run = excluded.seen_run,
  page = excluded.page"""
#: A full run links rows to SKUs; incremental rows carry only the id and keep their link.
_PG_STAGE_LINK = _PG_STAGE_SELECT + ", sku = excluded.sku"


def settings_of(toolbox: Toolbox) -> MoySkladSettings:
    return toolbox.plugin_settings("moysklad")  # type: ignore[return-value]


def to_units(value: Any) -> int:
    """A MoySklad figure (a float, may be negative or fractional) as whole units ≥ 0."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return 0
    if not number.is_finite() or number <= 0:
        return 0
    return min(int(number), MAX_FIGURE)


def assortment_id(row: dict[str, Any]) -> str | None:
    """The id of a stock report row: the last path segment of ``meta.href``, query string dropped."""
    href = (row.get("meta") or {}).get("href")
    if not isinstance(href, str):
        return None
    ident = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return ident[:64] or None


def row_item(row: dict[str, Any], settings: MoySkladSettings) -> tuple[str, str | None, int] | None:
    """``(assortment id, our SKU or None, figure)`` of a ``/report/stock/all`` row."""
    ident = assortment_id(row)
    if ident is None:
        return None
    raw = ident if settings.sku_field == "id" else row.get(settings.sku_field)
    sku = raw.strip() if isinstance(raw, str) else None
    if not sku or len(sku) > SKU_MAX_LENGTH:
        sku = None
    if settings.figure == "freeStock":
        stock = to_units(row.get("stock"))
        figure = max(0, stock - to_units(row.get("reserve")))
    else:
        figure = to_units(row.get(settings.figure))
    return ident, sku, figure


def is_stock_report(settings: MoySkladSettings, url: str) -> bool:
    """``url`` is the short stock report on the configured API (never follow anything else)."""
    mine, theirs = urlsplit(settings.base_url.rstrip("/")), urlsplit(url)
    return (theirs.scheme, theirs.netloc) == (mine.scheme, mine.netloc) and \
        theirs.path == mine.path + "/report/stock/all/current"


def msk_moment(moment: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in Moscow time, as MoySklad's ``changedSince`` wants it."""
    return moment.astimezone(MSK).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class _Source:
    id: str = SOURCE_ID


class SyncBlocked(Exception):
    """The zeroing guard stopped a run before it wrote anything."""


class MoySkladSync:
    """One sync run. Callers hold the job lease (the scheduler does for ``moysklad.sync``)."""

    def __init__(self, toolbox: Toolbox, client: MoySkladClient | None = None) -> None:
        self.toolbox = toolbox
        self.settings = settings_of(toolbox)
        self.client = client or MoySkladClient(self.settings, toolbox.keystore)
        self._own_client = client is None
        #: The dry run of a full run, built page by page as pages arrive (None: do it afterwards).
        self._dry: SyncReport | None = None
        self._real: SyncReport | None = None
        self._seen: set[str] = set()
        self._pending: list[int] = []
        self._catalog: int | None = None

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # ------------------------------------------------------------------ entry point
    def run(self, *, full: bool | None = None, dry_run: bool = False, trigger: str = "schedule",
            progress: Progress | None = None, report_url: str | None = None) -> dict[str, Any]:
        """Run a full or incremental sync (``full=None``: whichever is due); returns the report."""
        started = time.perf_counter()
        requests_before = self.client.requests
        kind, since = ("webhook", None) if report_url else self._kind(full)
        run = self._start(kind, trigger, dry_run)
        try:
            if kind == "full":
                self._stage_full(run, progress)
            else:
                self._stage_changes(run, since, report_url)
            fetched_at = time.perf_counter()
            report = self._apply(run, progress)
            report["fetch_seconds"] = round(fetched_at - started, 3)
            report["apply_seconds"] = round(time.perf_counter() - fetched_at, 3)
            status = "ok" if not report.get("blocked") else "blocked"
        except Exception as exc:
            self._finish(run, "failed", None, self.client.requests - requests_before, started,
                         error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        self._finish(run, status, report, self.client.requests - requests_before, started)
        return report

    # ------------------------------------------------------------------ which run
    def _kind(self, full: bool | None) -> tuple[str, datetime | None]:
        if full:
            return "full", None
        now = utcnow()
        with self.toolbox.db.session() as session:
            # The watermark: the last applied scheduled-kind run (a blocked run applied nothing, a
            # webhook run covered only its own report's window).
            last = session.scalars(select(MoySkladSyncRun).where(
                MoySkladSyncRun.status == "ok", MoySkladSyncRun.dry_run.is_(False),
                MoySkladSyncRun.kind.in_(("full", "incremental")))
                .order_by(MoySkladSyncRun.started_at.desc()).limit(1)).first()
            last_full = session.scalar(select(func.max(MoySkladSyncRun.started_at)).where(
                MoySkladSyncRun.kind == "full", MoySkladSyncRun.status == "ok",
                MoySkladSyncRun.dry_run.is_(False)))
        if last is None or last_full is None:
            return "full", None
        last_full = _aware(last_full)
        since = _aware(last.started_at) - timedelta(minutes=self.settings.overlap_minutes)
        too_old = now - since >= MAX_CHANGED_SINCE - timedelta(minutes=1)
        if full is None and (too_old or now - last_full >= timedelta(hours=self.settings.full_sync_hours)):
            return "full", None
        if full is False and too_old:
            raise InvalidInput("the last run is more than 24 h old; run a full sync", code="full_sync_needed")
        return "incremental", min(since, now)

    def _start(self, kind: str, trigger: str, dry_run: bool) -> MoySkladSyncRun:
        with self.toolbox.db.transaction() as session:
            stale = list(session.scalars(select(MoySkladSyncRun).where(MoySkladSyncRun.status == "running")))
            for run in stale:  # we hold the lease: a running run is a dead one
                if kind == "full" and run.kind == "full" and run.dry_run == dry_run and \
                        utcnow() - _aware(run.started_at) < MAX_CHANGED_SINCE:
                    log.info("resuming MoySklad run %s after %d rows", run.id, run.fetched)
                    run.trigger = trigger
                    session.flush()
                    session.expunge(run)
                    return run
                run.status, run.finished_at, run.error = "crashed", utcnow(), "the process died during the run"
            run = MoySkladSyncRun(id=new_id("msync"), kind=kind, trigger=trigger, status="running",
                                  dry_run=dry_run, started_at=utcnow(), fetched=0, requests=0)
            session.add(run)
            session.flush()
            session.expunge(run)
            return run

    # ------------------------------------------------------------------ phase 1
    def _stage_full(self, run: MoySkladSyncRun, progress: Progress | None) -> None:
        if run.fetched and not run.next_href:
            return  # a resumed run that had fetched everything
        fresh = not run.fetched
        if fresh:  # a fresh run sees every page here: check them as they come
            self._dry = SyncReport(source=SOURCE_ID, dry_run=True, full=True)
            self._real = SyncReport(source=SOURCE_ID, full=True)
        params = {"limit": self.settings.page_size, "offset": 0, "filter": "quantityMode=all"}
        pages = self.client.pages("/report/stock/all", params, start_url=run.next_href)
        size, safe = 0, False
        for number, (page, next_url) in enumerate(_prefetched(pages)):
            rows = page.get("rows") or []
            if number == 0:
                size = int((page.get("meta") or {}).get("size") or 0)
                if progress is not None:
                    progress.total(size)
                    progress.message("fetching MoySklad stock")
            items = [item for item in (row_item(r, self.settings) for r in rows if isinstance(r, dict)) if item]
            self._stage(run, items, next_url, link=True, page=number if fresh else None)
            if progress is not None:
                progress.advance(len(rows))
            if not fresh:
                continue
            self._check_page(run, items)
            self._pending.append(number)
            safe = safe or self._cannot_block(run, size)
            if safe:  # the guard can no longer stop this run: write while the next page downloads
                self._write_pending(run)

    def _stage_changes(self, run: MoySkladSyncRun, since: datetime | None, report_url: str | None) -> None:
        path, params = "/report/stock/all/current", {"stockType": self.settings.figure}
        if report_url:
            path, params = self._follow(report_url)
        else:
            params["changedSince"] = msk_moment(since or utcnow())
        rows = self.client.get(path, params)
        if not isinstance(rows, list):
            raise ValueError("the short stock report is not a JSON array")
        figure = self.settings.figure
        items = []
        for row in rows:
            if isinstance(row, dict) and isinstance(row.get("assortmentId"), str):
                items.append((row["assortmentId"][:64], None, to_units(row.get(figure))))
        for start in range(0, len(items), self.settings.page_size):
            self._stage(run, items[start:start + self.settings.page_size], None, link=False)

    def _follow(self, report_url: str) -> tuple[str, dict[str, Any]]:
        """A webhook's ``reportUrl``, only if it is a short stock report of the configured API."""
        parts = urlsplit(report_url)
        if not is_stock_report(self.settings, report_url):
            raise InvalidInput("reportUrl is not a stock report of the configured MoySklad API",
                               code="invalid_report_url")
        params = dict(parse_qsl(parts.query))
        params["stockType"] = self.settings.figure
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), params

    def _stage(self, run: MoySkladSyncRun, items: list[tuple[str, str | None, int]], next_url: str | None,
               *, link: bool, page: int | None = None) -> None:
        """Upsert one page into ``moysklad_items`` and record the run's progress, in one transaction.

        One statement per page: on PostgreSQL the page goes as three arrays (``unnest``).
        """
        unique = list({ident: (ident, sku, figure) for ident, sku, figure in items}.values())
        with self.toolbox.db.transaction() as session:
            if unique and not self.toolbox.db.is_sqlite:
                session.execute(text(_PG_STAGE_LINK if link else _PG_STAGE_SELECT), {
                    "ids": [i for i, _, _ in unique], "skus": [s for _, s, _ in unique],
                    "figures": [f for _, _, f in unique], "run": run.id, "page": page})
            elif unique:
                values = [{"assortment_id": i, "sku": s, "figure": f, "seen_run": run.id, "page": page}
                          for i, s, f in unique]
                changed = ["figure", "seen_run", "page", *(["sku"] if link else [])]
                session.execute(upsert("sqlite", MoySkladItem, values, conflict=["assortment_id"], update=changed))
            run.fetched += len(items)
            run.next_href = next_url
            session.execute(update(MoySkladSyncRun).where(MoySkladSyncRun.id == run.id)
                            .values(fetched=run.fetched, next_href=next_url))

    def _check_page(self, run: MoySkladSyncRun, items: list[tuple[str, str | None, int]]) -> None:
        """The dry run of one staged page, while the next page downloads (full runs)."""
        assert self._dry is not None
        latest = {sku: figure for _, sku, figure in items if sku}
        with self.toolbox.db.session() as session:
            result = apply_stock_batch(session, [StockLevel(sku, f) for sku, f in latest.items()], source=SOURCE_ID,
                                       dry_run=True, as_of=_aware(run.started_at),
                                       sales_lag_seconds=self.toolbox.settings.inventory.sales_lag_seconds)
        self._dry.add(result)
        self._seen.update(latest)

    def _cannot_block(self, run: MoySkladSyncRun, size: int) -> bool:
        """True once no remaining page could make the guard stop the run (so writing may start).

        Only when missing SKUs are kept: every row still to come could at most zero one level.
        """
        if run.dry_run or self.settings.missing == "zero" or self._dry is None:
            return False
        worst = self._dry.zeroed + max(0, size - run.fetched)
        if worst < self.settings.zero_guard_min_skus:
            return True
        if self._catalog is None:
            self._catalog = self._catalog_size()
        return worst <= self.settings.max_zero_share * self._catalog

    def _write_pending(self, run: MoySkladSyncRun) -> None:
        """Apply the staged pages not written yet, one transaction and one bulk statement each."""
        assert self._real is not None
        as_of, lag = _aware(run.started_at), self.toolbox.settings.inventory.sales_lag_seconds
        for number in self._pending:
            with self.toolbox.db.transaction() as session:
                rows = session.execute(select(MoySkladItem.sku, MoySkladItem.figure).where(
                    MoySkladItem.seen_run == run.id, MoySkladItem.page == number,
                    MoySkladItem.sku.is_not(None))).all()
                result = apply_stock_batch(session, [StockLevel(sku, int(f)) for sku, f in rows], source=SOURCE_ID,
                                           as_of=as_of, sales_lag_seconds=lag)
            self._real.add(result)
        self._pending.clear()

    # ------------------------------------------------------------------ phases 2 and 3
    def _staged(self, run: MoySkladSyncRun, as_of: datetime) -> Iterator[StockBatch]:
        after = ""
        while True:
            with self.toolbox.db.session() as session:
                rows = session.execute(
                    select(MoySkladItem.sku, func.max(MoySkladItem.figure))
                    .where(MoySkladItem.seen_run == run.id, MoySkladItem.sku.is_not(None), MoySkladItem.sku > after)
                    .group_by(MoySkladItem.sku).order_by(MoySkladItem.sku)
                    .limit(self.toolbox.settings.inventory.sync_batch_size)).all()
            if not rows:
                return
            after = rows[-1][0]
            yield StockBatch(tuple(StockLevel(sku, int(figure)) for sku, figure in rows), as_of=as_of)

    def _apply(self, run: MoySkladSyncRun, progress: Progress | None) -> dict[str, Any]:
        full = run.kind == "full"
        zero = full and self.settings.missing == "zero"
        as_of = _aware(run.started_at)
        if progress is not None:
            progress.message("checking the figures")
        if self._dry is not None:
            dry = self._dry
            apply_missing(self.toolbox, dry, self._seen, zero_missing=zero, dry_run=True)
        else:
            dry = sync_source(self.toolbox, _Source(), dry_run=True, full=full, zero_missing=zero,
                              batches=self._staged(run, as_of))
        extras = self._extras(run)
        catalog = dry.matched + (dry.missing or 0) if full else self._catalog_size()
        if dry.zeroed >= self.settings.zero_guard_min_skus and dry.zeroed > self.settings.max_zero_share * catalog:
            return self._blocked(run, dry, catalog, extras)
        if run.dry_run:
            return _report(dry, run, extras, catalog)
        if progress is not None:
            progress.message("writing changed levels")
        if self._real is not None:  # a fresh full run: pages are written as soon as it is safe
            self._write_pending(run)
            real = self._real
            real.missing, real.missing_sample = dry.missing, dry.missing_sample
            if zero:
                real.missing = None
                apply_missing(self.toolbox, real, self._seen, zero_missing=True)
            return _report(real, run, extras, catalog)
        real = sync_source(self.toolbox, _Source(), full=full, zero_missing=zero, batches=self._staged(run, as_of))
        return _report(real, run, extras, catalog)

    def _blocked(self, run: MoySkladSyncRun, dry: SyncReport, catalog: int, extras: dict[str, Any]) -> dict[str, Any]:
        report = _report(dry, run, extras, catalog) | {"blocked": True}
        report["blocked_reason"] = (f"would zero {dry.zeroed} of {catalog} catalog SKUs "
                                    f"(limit {self.settings.max_zero_share:.0%}); nothing was written")
        log.error("MoySklad sync %s stopped: %s", run.id, report["blocked_reason"])
        with self.toolbox.db.transaction() as session:
            emit(session, "moysklad.sync_blocked", {"run_id": run.id, "zeroed": dry.zeroed, "catalog": catalog,
                                                   "reason": report["blocked_reason"]})
        return report

    def _extras(self, run: MoySkladSyncRun) -> dict[str, Any]:
        with self.toolbox.db.session() as session:
            unlinked = session.scalar(select(func.count()).select_from(MoySkladItem).where(
                MoySkladItem.seen_run == run.id, MoySkladItem.sku.is_(None))) or 0
            sample = list(session.scalars(select(MoySkladItem.assortment_id).where(
                MoySkladItem.seen_run == run.id, MoySkladItem.sku.is_(None)).limit(20)))
            ambiguous = session.scalar(select(func.count()).select_from(
                select(MoySkladItem.sku).where(MoySkladItem.seen_run == run.id, MoySkladItem.sku.is_not(None))
                .group_by(MoySkladItem.sku).having(func.count() > 1).subquery())) or 0
        return {"unlinked": int(unlinked), "unlinked_sample": sample, "ambiguous": int(ambiguous)}

    def _catalog_size(self) -> int:
        with self.toolbox.db.session() as session:
            return catalog_size(session)

    def _finish(self, run: MoySkladSyncRun, status: str, report: dict[str, Any] | None, requests: int,
                started: float, *, error: str | None = None) -> None:
        if report is not None:
            report["requests"] = requests
            report["duration_seconds"] = round(time.perf_counter() - started, 3)
        with self.toolbox.db.transaction() as session:
            session.execute(update(MoySkladSyncRun).where(MoySkladSyncRun.id == run.id).values(
                status=status, finished_at=utcnow(), report=report, error=error,
                requests=MoySkladSyncRun.requests + requests))


def _report(report: SyncReport, run: MoySkladSyncRun, extras: dict[str, Any], catalog: int) -> dict[str, Any]:
    data = report.as_dict()
    data.pop("cursor", None)
    data.pop("source", None)
    return {"run_id": run.id, "kind": run.kind, "fetched": run.fetched, "catalog": catalog, **data, **extras,
            "blocked": False}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # noqa: UP017 - SQLite drops it


def _prefetched(pages: Iterator[Any]) -> Iterator[Any]:
    """Iterate ``pages`` in a background thread, one page ahead (fetch while the last one is written)."""
    done = object()
    box: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        """Hand ``item`` to the consumer; ``False`` once it stopped listening (never blocks forever)."""
        while not stop.is_set():
            try:
                box.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for page in pages:
                if not offer(page):
                    return
            offer(done)
        except BaseException as exc:  # handed to the consumer
            offer(exc)

    thread = threading.Thread(target=pump, name="moysklad-pages", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)


def run_scheduled(toolbox: Toolbox, progress: Progress | None = None) -> str:
    """The ``moysklad.sync`` scheduled job (the scheduler holds its lease)."""
    sync = MoySkladSync(toolbox)
    try:
        report = sync.run(progress=progress)
    finally:
        sync.close()
    return summary(report)


def summary(report: dict[str, Any]) -> str:
    if report.get("blocked"):
        return f"BLOCKED: {report['blocked_reason']}"
    missing = report.get("missing")
    return (f"{report['kind']}: {report['received']} rows, {report['matched']} matched, {report['changed']} changed, "
            f"{report['unchanged']} unchanged, {report['unknown']} unknown, "
            f"{'-' if missing is None else missing} missing, {report['unlinked']} unlinked, "
            f"{report.get('requests', 0)} requests, {report.get('duration_seconds', 0)} s")

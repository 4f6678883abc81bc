"""Stock from inventory sources: batched, changed-only, catalog SKUs only, reservations kept."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, select

from tests.checkout.helpers import make_variant, outbox, ready_cart
from toolbox_core.catalog.models import Product, ProductVariant
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.config import Settings
from toolbox_core.inventory.models import InventoryLevel
from toolbox_core.inventory.service import apply_levels, convert, levels
from toolbox_core.inventory.sync import apply_stock_batch, catalog_size, sync_source
from toolbox_core.jobs.lease import JobLease, LeaseLost
from toolbox_core.kernel import Toolbox
from toolbox_core.providers import StockBatch, StockLevel


@pytest.fixture(params=["sqlite", "postgres"])
def toolbox(request, settings):
    """The same behaviour on both databases (the SQL differs: arrays on PostgreSQL, JSON on SQLite)."""
    url = settings.database_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    tb = Toolbox.create(Settings(**{**settings.model_dump(), "database_url": url}))
    yield tb
    tb.close()


def catalog(toolbox, count: int, prefix: str = "SKU", stock: int | None = None) -> list[str]:
    skus = [f"{prefix}-{n:06d}" for n in range(count)]
    with toolbox.db.transaction() as session:
        for sku in skus:
            session.add(Product(id=f"prod_{sku}", handle=sku.lower(), status="published",
                                variants=[ProductVariant(id=f"var_{sku}", sku=sku, price=1000)]))
        if stock is not None:
            apply_levels(session, [StockLevel(sku, stock) for sku in skus])
    return skus


def stocked(toolbox, sku: str) -> list[tuple[int, int]]:
    with toolbox.db.session() as session:
        return [(x.stocked, x.reserved) for x in levels(session, sku)]


def count_statements(toolbox):
    seen: list[str] = []
    event.listen(toolbox.db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_batch_writes_only_changed_levels_of_catalog_skus_and_reports_the_rest(toolbox):
    catalog(toolbox, 3, stock=5)  # SKU-000000..2 at 5
    with toolbox.db.transaction() as session:
        result = apply_stock_batch(session, [StockLevel("SKU-000000", 5), StockLevel("SKU-000001", 7),
                                             StockLevel("SKU-000002", 0), StockLevel("NOT-OURS", 9)],
                                   source="warehouse")
    assert (result.received, result.matched, result.unchanged) == (4, 3, 1)
    assert result.changed == ["SKU-000001", "SKU-000002"]
    assert result.unknown == ["NOT-OURS"]
    assert result.zeroed == 1
    assert stocked(toolbox, "NOT-OURS") == [], "an unknown SKU is never inserted"
    with toolbox.db.session() as session:
        assert catalog_size(session) == 3
    assert stocked(toolbox, "SKU-000001") == [(7, 0)]
    assert outbox(toolbox, "inventory.updated")[-1] == {
        "skus": ["SKU-000001", "SKU-000002"], "reason": "warehouse", "order_id": None}


def test_a_dry_run_reports_the_same_and_writes_nothing(toolbox):
    catalog(toolbox, 2, stock=5)
    events_before = len(outbox(toolbox, "inventory.updated"))
    with toolbox.db.transaction() as session:
        result = apply_stock_batch(session, [StockLevel("SKU-000000", 1), StockLevel("SKU-000001", 5),
                                             StockLevel("SKU-000001", 2, "new-shop")],
                                   source="warehouse", dry_run=True)
    assert result.changed == ["SKU-000000", "SKU-000001"]
    assert result.unchanged == 1
    assert stocked(toolbox, "SKU-000000") == [(5, 0)]
    assert stocked(toolbox, "SKU-000001") == [(5, 0)]
    assert len(outbox(toolbox, "inventory.updated")) == events_before


def test_a_batch_of_5000_levels_is_a_constant_number_of_statements(toolbox):
    skus = catalog(toolbox, 5000, stock=1)
    statements = count_statements(toolbox)
    with toolbox.db.transaction() as session:
        result = apply_stock_batch(session, [StockLevel(sku, 2) for sku in skus], source="warehouse")
    assert len(result.changed) == 5000
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT INTO INVENTORY", "UPDATE INV"))]
    assert len(writes) == 1
    assert len(statements) <= 6  # location lookup, classify, write, the event


def test_reservations_are_kept_and_a_figure_below_them_is_reported(toolbox):
    variant = make_variant(toolbox, sku="HELD-1", stock=5)
    CheckoutService(toolbox).complete(ready_cart(toolbox, variant, quantity=3), None)
    with toolbox.db.transaction() as session:
        result = apply_stock_batch(session, [StockLevel("HELD-1", 2)], source="warehouse")
    assert result.below_reserved == ["HELD-1"]
    assert stocked(toolbox, "HELD-1") == [(2, 3)]


def test_recent_sales_the_source_does_not_know_yet_are_not_sold_again(toolbox):
    variant = make_variant(toolbox, sku="SOLD-1", stock=10)
    order = CheckoutService(toolbox).complete(ready_cart(toolbox, variant, quantity=4), None)
    with toolbox.db.transaction() as session:
        convert(session, order.order_id)
    assert stocked(toolbox, "SOLD-1") == [(6, 0)]
    # The source's count was taken before it heard of the sale: still 10 there.
    with toolbox.db.transaction() as session:
        result = apply_stock_batch(session, [StockLevel("SOLD-1", 10)], source="warehouse",
                                   sales_lag_seconds=3600)
    assert result.unchanged == 1
    assert stocked(toolbox, "SOLD-1") == [(6, 0)]
    # Once the lag has passed, the source's figure is taken as it is.
    with toolbox.db.transaction() as session:
        apply_stock_batch(session, [StockLevel("SOLD-1", 10)], source="warehouse", sales_lag_seconds=0)
    assert stocked(toolbox, "SOLD-1") == [(10, 0)]


class StreamingSource:
    id = "warehouse"

    def __init__(self, pages: list[list[StockLevel]]) -> None:
        self.pages = pages
        self.asked: list[str | None] = []

    def stream_levels(self, since):
        self.asked.append(since)
        for number, page in enumerate(self.pages):
            yield StockBatch(tuple(page), cursor=f"page-{number}")


class Progress:
    def __init__(self) -> None:
        self.done = 0

    def total(self, count):
        pass

    def advance(self, count=1):
        self.done += count

    def message(self, text):
        pass


def test_a_sync_that_lost_its_job_lease_stops_before_writing_the_next_batch(toolbox):
    """A holder that could not renew its lease may already have a successor: its writes must stop."""
    catalog(toolbox, 2, stock=5)
    lease = JobLease(toolbox.keystore, "stock.sync", ttl_seconds=1)
    assert lease.acquire()
    try:
        batches = iter([StockBatch(levels=(StockLevel("SKU-000000", 1),)),
                        StockBatch(levels=(StockLevel("SKU-000001", 2),))])

        def stream():
            yield next(batches)
            toolbox.keystore.compare_and_consume(lease.key, lease.token)  # it lapsed ...
            assert toolbox.keystore.set_if_absent(lease.key, "successor", 60)  # ... and was taken
            deadline = time.monotonic() + 5
            while not lease.lost and time.monotonic() < deadline:
                time.sleep(0.05)
            yield next(batches)

        with pytest.raises(LeaseLost):
            sync_source(toolbox, _NamedSource(), batches=stream())
    finally:
        lease.release()
    assert stocked(toolbox, "SKU-000000") == [(1, 0)]
    assert stocked(toolbox, "SKU-000001") == [(5, 0)], "nothing written after the lease was lost"
    # Outside a leased job the same writes go through.
    with toolbox.db.transaction() as session:
        apply_stock_batch(session, [StockLevel("SKU-000001", 2)], source="warehouse")
    assert stocked(toolbox, "SKU-000001") == [(2, 0)]


class _NamedSource:
    id = "warehouse"


def test_sync_source_streams_batches_and_reports_missing_on_a_full_run(toolbox):
    skus = catalog(toolbox, 30, stock=1)
    pages = [[StockLevel(sku, 3) for sku in skus[start:start + 10]] for start in (0, 10)]
    pages[1].append(StockLevel("GHOST", 1))
    progress = Progress()
    source = StreamingSource(pages)
    report = sync_source(toolbox, source, progress=progress)
    assert (report.batches, report.received, report.changed, report.unknown, report.missing) == (2, 21, 20, 1, 10)
    assert report.cursor == "page-1"
    assert progress.done == 21
    assert stocked(toolbox, skus[25]) == [(1, 0)], "missing SKUs are left alone by default"
    zeroing = sync_source(toolbox, StreamingSource(pages), zero_missing=True, dry_run=True)
    assert zeroing.zeroed == 10 and stocked(toolbox, skus[25]) == [(1, 0)]
    sync_source(toolbox, StreamingSource(pages), zero_missing=True)
    assert stocked(toolbox, skus[25]) == [(0, 0)]
    incremental = sync_source(toolbox, StreamingSource([pages[0][:2]]), since="page-1")
    assert incremental.missing is None and incremental.unchanged == 2


def test_the_v1_fetch_levels_protocol_still_works_in_batches(toolbox):
    skus = catalog(toolbox, 2500)
    toolbox.settings.inventory.sync_batch_size = 1000

    class Legacy:
        id = "legacy"

        def fetch_levels(self):
            return [StockLevel(sku, 4) for sku in skus] + [StockLevel("NOPE", 1)]

    report = sync_source(toolbox, Legacy())
    assert (report.batches, report.changed, report.unknown) == (3, 2500, 1)
    with toolbox.db.session() as session:
        assert session.scalar(select(InventoryLevel).where(InventoryLevel.sku == "NOPE")) is None


def test_the_admin_api_refuses_stock_for_skus_not_in_the_catalog(client, toolbox):
    from tests.checkout.helpers import admin_headers

    catalog(toolbox, 1, stock=2)
    headers = admin_headers(toolbox, "inventory:write")
    response = client.put("/admin/inventory", headers=headers, json={"levels": [
        {"sku": "SKU-000000", "stocked": 3}, {"sku": "TYPO-1", "stocked": 9}]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_sku"
    assert stocked(toolbox, "SKU-000000") == [(2, 0)], "nothing of the request is written"
    assert stocked(toolbox, "TYPO-1") == []

"""Stock follows MoySklad: full and incremental runs, mapping, reports, the guard, crashes, overlap."""

from __future__ import annotations

import threading
import time

import pytest
from moysklad_helpers import add_catalog, events, levels
from toolbox_moysklad.sync import MoySkladSync

from toolbox_core.api import LeaseHeld


def sync(toolbox, **kwargs):
    runner = MoySkladSync(toolbox)
    try:
        return runner.run(**kwargs)
    finally:
        runner.close()


def test_a_full_run_maps_by_code_writes_changes_and_reports_the_mismatches(store, fake):
    tb = store()
    products = fake.add_products(10)
    for n, p in enumerate(products):
        fake.set_stock(p, stock=n + 0.7, reserve=1)  # fractions are dropped
    ours = [p.code for p in products[:8]] + ["OURS-ONLY"]
    add_catalog(tb, ours, stock=3)
    report = sync(tb, full=True)
    assert report["kind"] == "full" and not report["blocked"]
    assert (report["received"], report["matched"], report["unknown"], report["missing"]) == (10, 8, 2, 1)
    assert report["changed"] == 7 and report["unchanged"] == 1  # product 3 already had 3
    assert report["unknown_sample"] == ["C000008", "C000009"]
    assert report["missing_sample"] == ["OURS-ONLY"]
    assert levels(tb, ours) == {**{p.code: (n, 0) for n, p in enumerate(products[:8])}, "OURS-ONLY": (3, 0)}
    assert levels(tb).get("C000009") is None, "a SKU we do not sell is never inserted"
    updated = events(tb, "inventory.updated")[-1]
    assert updated["reason"] == "moysklad" and "C000003" not in updated["skus"] and len(updated["skus"]) == 7
    again = sync(tb, full=True)
    assert (again["changed"], again["unchanged"]) == (0, 8)
    assert fake.requests_to("/report/stock/all") == 2


def test_a_second_identical_run_emits_no_inventory_event(store, fake):
    tb = store()
    add_catalog(tb, [p.code for p in fake.add_products(5)])
    sync(tb, full=True)
    before = len(events(tb, "inventory.updated"))
    sync(tb, full=True)
    assert len(events(tb, "inventory.updated")) == before


@pytest.mark.parametrize(("field", "sku_of"), [
    ("code", lambda p: p.code), ("article", lambda p: p.article),
    ("externalCode", lambda p: p.external_code), ("id", lambda p: p.id)])
def test_rows_map_to_our_skus_by_the_configured_field(store, fake, field, sku_of):
    tb = store(sku_field=field)
    products = fake.add_products(4, stock=9)
    add_catalog(tb, [sku_of(p) for p in products])
    report = sync(tb, full=True)
    assert (report["matched"], report["unknown"], report["changed"]) == (4, 0, 4)
    assert set(levels(tb, [sku_of(p) for p in products]).values()) == {(9, 0)}


@pytest.mark.parametrize(("figure", "expected"), [("stock", 10), ("freeStock", 7), ("quantity", 9)])
def test_which_figure_counts_is_a_setting(store, fake, figure, expected):
    tb = store(figure=figure)
    (product,) = fake.add_products(1)
    product.in_transit = 2
    fake.set_stock(product, stock=10, reserve=3)
    add_catalog(tb, [product.code])
    sync(tb, full=True)
    assert levels(tb, [product.code]) == {product.code: (expected, 0)}


def test_an_incremental_run_asks_for_changes_since_the_last_run_and_writes_only_them(store, fake):
    tb = store()
    products = fake.add_products(20, stock=4)
    add_catalog(tb, [p.code for p in products])
    sync(tb, full=True)
    fake.set_stock(products[3], stock=11)
    fake.set_stock(products[7], stock=0)
    report = sync(tb)
    assert report["kind"] == "incremental"
    assert report["received"] == 2 and report["changed"] == 2 and report["missing"] is None
    assert events(tb, "inventory.updated")[-1]["skus"] == [products[3].code, products[7].code]
    assert levels(tb, [products[3].code, products[7].code, products[4].code]) == {
        products[3].code: (11, 0), products[7].code: (0, 0), products[4].code: (4, 0)}
    current = [q for _, _, path, q in fake.log if path == "/report/stock/all/current"]
    assert len(current) == 1 and "changedSince=" in current[0] and "stockType=stock" in current[0]
    assert fake.requests_to("/report/stock/all") == 1


def test_missing_skus_are_left_alone_by_default_and_zeroed_when_configured(store, fake):
    products = fake.add_products(30, stock=2)
    keep, zero = store(), store(missing="zero", max_zero_share=0.5)
    for tb in (keep, zero):
        add_catalog(tb, [p.code for p in products] + ["GONE-1", "GONE-2"], stock=6)
        report = sync(tb, full=True)
        assert report["missing"] == 2
    assert levels(keep, ["GONE-1"]) == {"GONE-1": (6, 0)}
    assert levels(zero, ["GONE-1", "GONE-2"]) == {"GONE-1": (0, 0), "GONE-2": (0, 0)}


def test_a_run_that_would_zero_too_much_stops_before_writing_and_alerts(store, fake):
    products = fake.add_products(40, stock=3)
    tb = store(sku_field="article", missing="zero", max_zero_share=0.2)
    # A wrong mapping: our SKUs are MoySklad codes, the setting says article: all ours look missing.
    add_catalog(tb, [p.code for p in products], stock=8)
    report = sync(tb, full=True)
    assert report["blocked"] and report["zeroed"] == 40 and report["matched"] == 0
    assert "nothing was written" in report["blocked_reason"]
    assert set(levels(tb, [p.code for p in products]).values()) == {(8, 0)}
    alert = events(tb, "moysklad.sync_blocked")
    assert len(alert) == 1 and alert[0]["zeroed"] == 40 and alert[0]["catalog"] == 40
    from toolbox_moysklad.admin_api import last_runs

    assert last_runs(tb, 1)[0]["status"] == "blocked"


def test_reported_zeros_count_against_the_guard_too(store, fake):
    products = fake.add_products(20, stock=0)
    tb = store(max_zero_share=0.3)
    add_catalog(tb, [p.code for p in products], stock=5)
    assert sync(tb, full=True)["blocked"]
    assert set(levels(tb, [p.code for p in products]).values()) == {(5, 0)}
    fake.set_stock(products[0], stock=0)
    for p in products[:18]:
        fake.set_stock(p, stock=5)
    assert not sync(tb, full=True)["blocked"], "2 of 20 zeroed is under the share (and the minimum)"


def test_a_dry_run_reports_without_writing_stock(store, fake):
    tb = store()
    products = fake.add_products(5, stock=9)
    add_catalog(tb, [p.code for p in products], stock=1)
    report = sync(tb, full=True, dry_run=True)
    assert report["dry_run"] and report["changed"] == 5
    assert set(levels(tb, [p.code for p in products]).values()) == {(1, 0)}
    assert events(tb, "inventory.updated")[-1]["reason"] == "setup"


def test_a_run_that_died_halfway_resumes_at_its_page_and_ends_right(store, fake, monkeypatch):
    tb = store(page_size=100)
    products = fake.add_products(500, stock=7)
    add_catalog(tb, [p.code for p in products], stock=1)
    original, staged = MoySkladSync._stage, []

    def dying(self, run, items, next_url, **kwargs):
        if len(staged) == 2:
            raise SystemExit("killed")  # the process dies: no cleanup, the run stays 'running'
        staged.append(next_url)
        return original(self, run, items, next_url, **kwargs)

    monkeypatch.setattr(MoySkladSync, "_stage", dying)
    with pytest.raises(SystemExit):
        sync(tb, full=True)
    monkeypatch.setattr(MoySkladSync, "_stage", original)
    fetched_before = fake.requests_to("/report/stock/all")
    report = sync(tb, full=True)
    assert fake.requests_to("/report/stock/all") - fetched_before == 3, "pages 3 to 5 only"
    assert report["run_id"] and report["fetched"] == 500
    assert report["changed"] + report["unchanged"] == 500
    assert report["changed"] >= 300, "the pages staged before the crash are applied too"
    assert set(levels(tb, [p.code for p in products]).values()) == {(7, 0)}
    again = sync(tb, full=True)
    assert again["changed"] == 0


def test_two_runs_never_overlap_across_processes(store, fake):
    fake.latency = 0.3
    products = fake.add_products(300, stock=2)
    one = store(page_size=100)
    two = type(one).create(one.settings, plugin_settings={"moysklad": one.plugin_settings("moysklad").model_dump()})
    add_catalog(one, [p.code for p in products])
    results: dict[str, object] = {}

    def run(name, tb):
        try:
            results[name] = tb.scheduler.run_now("moysklad.sync", _Quiet()).status
        except LeaseHeld as exc:
            results[name] = exc

    first = threading.Thread(target=run, args=("one", one))
    first.start()
    time.sleep(0.4)
    run("two", two)
    first.join(30)
    two.close()
    assert results["one"] == "ok"
    assert isinstance(results["two"], LeaseHeld)
    assert fake.requests_to("/report/stock/all") == 3


class _Quiet:
    def total(self, count):
        pass

    def advance(self, count=1):
        pass

    def message(self, text):
        pass


def test_a_blocked_run_does_not_move_the_incremental_watermark(store, fake):
    tb = store(max_zero_share=0.1)
    products = fake.add_products(30, stock=5)
    add_catalog(tb, [p.code for p in products])
    sync(tb, full=True)
    for p in products:
        fake.set_stock(p, stock=0)
    assert sync(tb)["blocked"]
    for p in products:
        fake.set_stock(p, stock=6)
    assert sync(tb)["changed"] == 30
    asked = [q for _, _, path, q in fake.log if path == "/report/stock/all/current"]
    since = [part for q in asked for part in q.split("&") if part.startswith("changedSince=")]
    assert len(since) == 2 and since[0] == since[1], "the blocked run's changes are asked for again"

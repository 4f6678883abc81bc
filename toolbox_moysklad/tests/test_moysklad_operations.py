"""Running it: reservations under a racing sync on PostgreSQL, the CLI, the admin API, doctor."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from moysklad_helpers import add_catalog, admin_key, levels
from toolbox_moysklad.sync import MoySkladSync
from typer.testing import CliRunner

from toolbox_core.app import create_app


def test_checkouts_racing_a_sync_keep_their_reservations_on_postgresql(store, fake, serve_fake):
    fake.rate_limited = False
    products = fake.add_products(1500, stock=50)
    tb = store(database="postgres", page_size=200)
    skus = [p.code for p in products]
    add_catalog(tb, skus, stock=20)
    shop = serve_fake(create_app(toolbox=tb))
    variants = [f"var_{n}_{sku}"[:40] for n, sku in enumerate(skus)]

    def checkout(n: int) -> int:
        with httpx.Client(base_url=shop, timeout=30) as http:
            cart = http.post("/store/carts", json={"locale": "ru"}).json()["id"]
            line = http.post(f"/store/carts/{cart}/lines", json={"variant_id": variants[n % 10], "quantity": 2})
            assert line.status_code in (200, 201), line.text
            http.patch(f"/store/carts/{cart}", json={"phone": "+998901234567"})
            http.post(f"/store/carts/{cart}/shipping", json={"provider_id": "pickup", "option_id": "pickup"})
            http.post(f"/store/carts/{cart}/payment-session", json={"provider_id": "cash_on_delivery"})
            return http.post(f"/store/carts/{cart}/complete").status_code

    done = threading.Event()

    def run_sync() -> None:
        runner = MoySkladSync(tb)
        try:
            runner.run(full=True)
        finally:
            runner.close()
            done.set()

    with ThreadPoolExecutor(max_workers=6) as pool:
        syncing = pool.submit(run_sync)
        statuses = list(pool.map(checkout, range(20)))
        syncing.result(timeout=120)
    assert statuses.count(201) + statuses.count(200) == 20, statuses
    got = levels(tb, skus[:10])
    assert all(stocked == 50 for stocked, _ in got.values()), "MoySklad's figure is applied"
    assert sum(reserved for _, reserved in got.values()) == 40, "every reservation made during the sync is kept"
    assert {reserved for _, reserved in got.values()} == {4}


def _cli(tb, *args):
    import typer
    from toolbox_moysklad.plugin import register_commands

    app = typer.Typer()
    app.command("noop")(lambda: None)
    register_commands(app)
    config = tb.plugin_settings("moysklad")
    env = {"TOOLBOX_DATABASE_URL": tb.settings.database_url, "TOOLBOX_PLUGINS": "moysklad",
           "TOOLBOX_MOYSKLAD__TOKEN": "tok-initial", "TOOLBOX_MOYSKLAD__BASE_URL": config.base_url,
           "COLUMNS": "200"}
    return CliRunner(env=env).invoke(app, list(args))


def test_the_sync_command_shows_the_report_and_writes_nothing_under_dry_run(store, fake):
    tb = store()
    products = fake.add_products(3, stock=4)
    add_catalog(tb, [p.code for p in products], stock=1)
    dry = _cli(tb, "moysklad", "sync", "--full", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert "DRY RUN" in dry.output and '"changed": 3' in dry.output
    assert set(levels(tb, [p.code for p in products]).values()) == {(1, 0)}
    real = _cli(tb, "moysklad", "sync")
    assert real.exit_code == 0, real.output
    assert set(levels(tb, [p.code for p in products]).values()) == {(4, 0)}
    listed = _cli(tb, "moysklad", "reports")
    assert listed.exit_code == 0 and "full (dry)" in listed.output and listed.output.count("ok") >= 2
    runs = json.loads(_cli(tb, "moysklad", "reports", "--json").output)
    assert [run["dry_run"] for run in runs] == [False, True] and runs[0]["report"]["changed"] == 3


def test_webhooks_install_without_its_settings_says_what_to_set(store, fake):
    result = _cli(store(), "moysklad", "webhooks", "install")
    assert result.exit_code == 1 and "public_url and webhook_token" in result.output
    assert fake.webhooks == []


def test_the_sync_command_refuses_to_run_beside_a_running_sync(store, fake):
    tb = store()
    lease = tb.scheduler.lease("moysklad.sync")
    assert lease.acquire()
    try:
        result = _cli(tb, "moysklad", "sync")
    finally:
        lease.release()
    assert result.exit_code == 1 and "already running" in result.output
    assert fake.log == []


def test_the_admin_api_lists_the_last_reports(store, fake, serve_fake):
    tb = store()
    add_catalog(tb, [p.code for p in fake.add_products(2)])
    runner = MoySkladSync(tb)
    runner.run(full=True)
    runner.close()
    shop = serve_fake(create_app(toolbox=tb))
    assert httpx.get(f"{shop}/admin/moysklad/reports").status_code == 401
    headers = {"Authorization": f"Bearer {admin_key(tb)}"}
    body = httpx.get(f"{shop}/admin/moysklad/reports?limit=5", headers=headers).json()
    (run,) = body["reports"]
    assert run["status"] == "ok" and run["report"]["matched"] == 2 and run["requests"] >= 1
    one = httpx.get(f"{shop}/admin/moysklad/reports/{run['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["id"] == run["id"]
    assert httpx.get(f"{shop}/admin/moysklad/reports/nope", headers=headers).status_code == 404
    assert httpx.get(f"{shop}/admin/moysklad/reports?limit=100000", headers=headers).status_code == 422


def test_doctor_checks_the_api_and_the_token(store, fake):
    from toolbox_moysklad.plugin import doctor_checks

    good = {c.name: c for c in doctor_checks(store())}
    assert good["moysklad: tables"].message == "moysklad_items, moysklad_sync_runs, moysklad_webhooks migrated"
    assert good["moysklad: API and token"].ok and "connected" in good["moysklad: API and token"].message
    bad = {c.name: c for c in doctor_checks(store(token="revoked"))}["moysklad: API and token"]
    assert not bad.ok and "401" in bad.message and "revoked" not in bad.message


UNREACHABLE = "http://127.0.0.1:1/api/remap/1.2"  # nothing listens on port 1: connection refused


def test_doctor_says_plainly_that_moysklad_could_not_be_reached(store, monkeypatch):
    from toolbox_moysklad.plugin import doctor_checks

    monkeypatch.setattr("toolbox_moysklad.client.MAX_5XX_RETRIES", 0)
    checks = {c.name: c for c in doctor_checks(store(base_url=UNREACHABLE))}
    api = checks["moysklad: API and token"]
    assert not api.ok and api.message.startswith("MoySklad could not be reached at http://127.0.0.1:1 (ConnectError)")
    assert "answered 0" not in api.message and "code 0" not in api.message
    assert checks["moysklad: tables"].ok


def test_the_sync_command_says_plainly_that_moysklad_could_not_be_reached(store, monkeypatch):
    monkeypatch.setattr("toolbox_moysklad.client.MAX_5XX_RETRIES", 0)
    result = _cli(store(base_url=UNREACHABLE), "moysklad", "sync")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "MoySklad could not be reached at http://127.0.0.1:1 (ConnectError)" in output, output
    assert "MoySklad 0" not in output and "code 0" not in output


def test_doctor_before_migrate_names_the_missing_tables_and_still_checks_the_api(store, tmp_path):
    from toolbox_core.testing.doctor import plugin_doctor_checks, toolbox_before_migrate

    tb = store()
    values = tb.plugin_settings("moysklad").model_dump()
    fresh = toolbox_before_migrate(tb.settings, {"moysklad": values}, tmp_path / "new.db")
    try:
        checks = {c.name: c for c in plugin_doctor_checks(fresh, "moysklad")}
    finally:
        fresh.close()
    assert not checks["moysklad: tables"].ok
    assert checks["moysklad: tables"].message == ("moysklad_items, moysklad_sync_runs, moysklad_webhooks are "
                                                  "missing: run toolbox migrate")
    assert checks["moysklad: API and token"].ok
    assert checks["moysklad: last sync"].warning and "not checked" in checks["moysklad: last sync"].message
    assert [c.name for c in checks.values() if not c.ok] == ["moysklad: tables"]
    after = {c.name: c for c in plugin_doctor_checks(tb, "moysklad")}
    assert after["moysklad: tables"].ok and all(c.ok for c in after.values())


def test_doctor_on_a_database_never_migrated_reports_instead_of_crashing(store, tmp_path):
    """The client's limits live in the database key store, whose table ``toolbox migrate`` creates too."""
    from toolbox_core.api import Toolbox
    from toolbox_core.testing.doctor import plugin_doctor_checks

    tb = store()
    settings = tb.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
    fresh = Toolbox.create(settings, plugin_settings={"moysklad": tb.plugin_settings("moysklad").model_dump()})
    try:
        checks = {c.name: c for c in plugin_doctor_checks(fresh, "moysklad")}
    finally:
        fresh.close()
    assert not checks["moysklad: tables"].ok
    api = checks["moysklad: API and token"]
    assert api.ok and api.warning and "toolbox migrate" in api.message
    assert not any("doctor check failed" in c.message for c in checks.values())

"""``toolbox`` list commands: readable at 80 columns with whole ids, and ``--json`` on every one."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from tests.fakes.subscribers import failing, subscribe
from toolbox_core.config import Settings
from toolbox_core.events import emit
from toolbox_core.events.types import Subscriber
from toolbox_core.kernel import Toolbox


@pytest.fixture
def cli(clean_env, sqlite_url, monkeypatch):
    """``toolbox ...`` (kernel, catalog/admin and events/jobs commands) on ``sqlite_url``, at ``columns``."""
    from toolbox_core.catalog.plugin import register_commands as catalog_commands
    from toolbox_core.cli.main import cli as app
    from toolbox_core.events.plugin import register_commands as events_commands

    monkeypatch.setenv("TOOLBOX_DATABASE_URL", sqlite_url)
    root = typer.Typer()
    root.add_typer(app, name="toolbox")
    catalog_commands(app)
    events_commands(app)

    def run(*args: str, columns: int = 80):
        result = CliRunner(env={"COLUMNS": str(columns)}).invoke(root, ["toolbox", *args])
        assert result.exit_code == 0, result.output
        return result

    return run


def assert_fits(output: str, width: int = 80) -> None:
    too_long = [line for line in output.splitlines() if len(line) > width]
    assert not too_long, f"lines longer than {width} columns: {too_long}"


def record_events(sqlite_url: str) -> dict[str, str]:
    """An order event one subscriber failed on, one nothing subscribes to, and a product event."""
    toolbox = Toolbox.create(Settings(database_url=sqlite_url, plugins=[]))
    subscribe(toolbox, Subscriber("printer", ("order.placed",), failing("paper jam"), max_retries=0))
    ids = {}
    for name in ("order.placed", "order.canceled", "product.updated"):
        with toolbox.db.transaction() as session:
            ids[name] = emit(session, name, {"order_id": "ord_1", "product_id": "prod_1"})
    toolbox.events.drain()
    [parked] = toolbox.events.failed()
    ids["delivery"] = parked.id
    toolbox.close()
    return ids


def test_events_recent_lists_events_with_their_deliveries_at_80_columns(cli, sqlite_url):
    ids = record_events(sqlite_url)
    result = cli("events", "recent", "--type", "order.*")
    assert_fits(result.output)
    lines = result.output.splitlines()
    placed = next(line for line in lines if ids["order.placed"] in line)
    assert "printer: failed" in placed
    assert "paper jam" in result.output, "the last error is shown, wrapped"
    canceled = next(line for line in lines if ids["order.canceled"] in line)
    assert "no subscriber" in canceled, "an event no subscriber takes is listed as reaching none"
    assert ids["product.updated"] not in result.output
    assert "2 events" in result.output


def test_events_recent_json_has_every_delivery_field_and_honours_limit_and_type(cli, sqlite_url):
    ids = record_events(sqlite_url)
    events = json.loads(cli("events", "recent", "--json").output)
    assert [e["name"] for e in events] == ["product.updated", "order.canceled", "order.placed"]
    placed = events[2]
    assert placed["id"] == ids["order.placed"] and placed["payload"]["order_id"] == "ord_1"
    [delivery] = placed["deliveries"]
    assert delivery["id"] == ids["delivery"]
    assert (delivery["subscriber"], delivery["status"], delivery["attempts"]) == ("printer", "failed", 1)
    assert "paper jam" in delivery["last_error"]
    assert events[1]["deliveries"] == []
    assert [e["name"] for e in json.loads(cli("events", "recent", "--limit", "1", "--json").output)] == ["product.updated"]
    exact = json.loads(cli("events", "recent", "--type", "order.canceled", "--type", "product.*", "--json").output)
    assert [e["name"] for e in exact] == ["product.updated", "order.canceled"]


def test_events_failed_types_and_status_fit_80_columns_and_print_json(cli, sqlite_url):
    ids = record_events(sqlite_url)
    failed = cli("events", "failed")
    assert_fits(failed.output)
    assert ids["delivery"] in failed.output and "1 failed delivery" in failed.output
    [parked] = json.loads(cli("events", "failed", "--json").output)
    assert (parked["id"], parked["event_id"], parked["subscriber"]) == (ids["delivery"], ids["order.placed"], "printer")

    types = cli("events", "types")
    assert_fits(types.output)
    assert "order.placed" in types.output
    declared = {t["name"]: t for t in json.loads(cli("events", "types", "--json").output)}
    assert declared["order.placed"]["plugin"] == "core.checkout" and "order_id" in declared["order.placed"]["payload"]

    status = json.loads(cli("events", "status", "--json").output)
    assert status == {"unpublished": 0, "pending": 0, "done": 0, "failed": 1}


def test_events_status_on_a_store_with_events_but_no_deliveries_points_to_recent(cli, sqlite_url):
    toolbox = Toolbox.create(Settings(database_url=sqlite_url, plugins=[]))
    with toolbox.db.transaction() as session:
        emit(session, "order.placed", {"order_id": "ord_1"})
    toolbox.events.drain()
    toolbox.close()
    status = cli("events", "status")
    assert "done: 0" in status.output and "toolbox events recent" in status.output


def test_admin_keys_list_keeps_whole_ids_at_80_columns_and_prints_json(cli):
    from toolbox_core.admin.auth import create_key

    toolbox = Toolbox.create()
    keys = [create_key(toolbox, f"storefront deploy key {n}", ["catalog:read", "catalog:write", "orders:read"])[0]
            for n in range(2)]
    toolbox.close()
    listing = cli("admin", "keys", "list")
    assert_fits(listing.output)
    for key in keys:
        assert key.id in listing.output  # whole, on one line
    rows = json.loads(cli("admin", "keys", "list", "--json").output)
    assert [r["id"] for r in rows] == [k.id for k in keys]
    assert rows[0]["scopes"] == ["catalog:read", "catalog:write", "orders:read"] and rows[0]["revoked_at"] is None


def test_jobs_plugins_and_config_fit_80_columns_and_print_json(cli):
    jobs = cli("jobs")
    assert_fits(jobs.output)
    assert "events.purge" in jobs.output
    [purge] = [j for j in json.loads(cli("jobs", "--json").output) if j["job"] == "events.purge"]
    assert purge["schedule"] == "cron 17 3 * * *" and purge["status"] == "never"

    plugins = cli("plugins", "--builtin")
    assert_fits(plugins.output)
    assert "core.events" in plugins.output
    assert "core.events" in {p["name"] for p in json.loads(cli("plugins", "--builtin", "--json").output)}

    config = cli("config")
    assert_fits(config.output)
    assert "jobs.worker_heartbeat_seconds" in config.output
    assert {"key": "public_base_url", "value": None, "source": "default"} in json.loads(cli("config", "--json").output)


def test_a_narrow_terminal_leaves_out_whole_columns_and_says_which(cli, sqlite_url):
    ids = record_events(sqlite_url)
    narrow = cli("events", "recent", columns=70)
    assert_fits(narrow.output, 70)
    assert ids["order.placed"] in narrow.output
    assert "not shown at this width: occurred (--json has every field)" in narrow.output
    wide = cli("events", "recent", columns=250)
    assert "printer: failed after 1 attempt: RuntimeError: paper jam" in wide.output
    assert "occurred" in wide.output and "not shown" not in wide.output
    failed = cli("events", "failed", columns=60)
    assert_fits(failed.output, 60)
    assert ids["delivery"] in failed.output and "not shown at this width:" in failed.output


def test_json_output_gives_times_in_utc_as_the_apis_do():
    from datetime import datetime, timedelta, timezone

    from toolbox_core.cli.tables import dumps

    tashkent = datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5)))
    assert json.loads(dumps({"at": tashkent, "name": "Дрель"})) == {"at": "2025-12-31T19:30:00.000000Z",
                                                                    "name": "Дрель"}

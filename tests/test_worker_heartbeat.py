"""With Redis, ``/ready`` and ``toolbox doctor`` say whether a worker is consuming (its heartbeat)."""

from __future__ import annotations

import os
import time

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.redis

FAST = {"worker_heartbeat_seconds": 1}  # expires 3 s after the last beat


def test_ready_reports_a_missing_worker_without_failing_then_the_one_another_process_runs(
        make_toolbox, make_client, start_worker):
    api = make_toolbox(redis=True, jobs=FAST)
    client = make_client(api)
    missing = client.get("/ready")
    assert missing.status_code == 200, "a missing worker is reported, the API process still serves"
    assert missing.json()["status"] == "ready" and missing.json()["worker"] == "missing"

    worker_process = make_toolbox(redis=True, jobs=FAST)  # another process on the same Redis
    running = start_worker(worker_process)
    ready = client.get("/ready")
    assert ready.json()["worker"] == "ok" and ready.json()["checks"]["worker"]["ok"] is True
    assert "pid" not in ready.text and "host" not in ready.text, "no process details on a public endpoint"

    time.sleep(4)  # past the expiry of the first beat: the worker renewed it
    assert client.get("/ready").json()["worker"] == "ok"

    running.stop()
    time.sleep(3.5)
    assert client.get("/ready").json()["worker"] == "missing"


def test_ready_without_redis_says_nothing_about_workers(client):
    body = client.get("/ready").json()
    assert body["status"] == "ready" and "worker" not in body and "worker" not in body["checks"]


def test_ready_is_503_when_redis_is_unreachable_whatever_the_worker(make_toolbox, make_client):
    toolbox = make_toolbox(redis_url="redis://127.0.0.1:1/0")
    response = make_client(toolbox).get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False and response.json()["worker"] == "missing"


def test_doctor_warns_without_a_worker_and_names_it_when_one_runs(make_toolbox, start_worker, monkeypatch):
    from toolbox_core.cli.main import cli

    toolbox = make_toolbox(redis=True)
    monkeypatch.setenv("TOOLBOX_DATABASE_URL", toolbox.settings.database_url)
    monkeypatch.setenv("TOOLBOX_REDIS_URL", toolbox.settings.redis_url)
    monkeypatch.setenv("TOOLBOX_AUTH__SECRET_KEY", "a-random-server-key-of-more-than-32-characters")
    monkeypatch.setenv("TOOLBOX_DEBUG", "true")  # the console OTP sender is fine here: no FAIL but the worker's
    runner = CliRunner(env={"COLUMNS": "200"})

    warned = runner.invoke(cli, ["doctor"])
    assert warned.exit_code == 0, warned.output  # a warning, not a failure
    assert "warn worker: no worker heartbeat in the last 30s" in warned.output
    assert "start `toolbox worker`" in warned.output

    start_worker(toolbox)
    seen = runner.invoke(cli, ["doctor"])
    assert seen.exit_code == 0, seen.output
    assert "ok   worker: consuming: last heartbeat from" in seen.output and f"(pid {os.getpid()})" in seen.output


def test_events_status_says_whether_a_worker_runs_when_redis_is_configured(make_toolbox, start_worker, monkeypatch):
    import json

    import typer

    from toolbox_core.events.plugin import register_commands

    toolbox = make_toolbox(redis=True)
    monkeypatch.setenv("TOOLBOX_DATABASE_URL", toolbox.settings.database_url)
    monkeypatch.setenv("TOOLBOX_REDIS_URL", toolbox.settings.redis_url)
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register_commands(app)
    status = CliRunner().invoke(app, ["events", "status", "--json"])
    assert json.loads(status.output)["worker"] == "missing"
    start_worker(toolbox)
    assert json.loads(CliRunner().invoke(app, ["events", "status", "--json"]).output)["worker"] == "ok"

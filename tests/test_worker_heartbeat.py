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


class _Beats:
    """A key store recording heartbeat writes (no namespace attribute: it writes keys as given)."""

    def __init__(self) -> None:
        import threading

        self.writes: list[tuple[str, str]] = []
        self.second = threading.Event()

    def set(self, key: str, value: str, ttl: float) -> None:
        self.writes.append((key, value))
        if len(self.writes) >= 2:
            self.second.set()

    def get(self, key: str) -> str | None:
        return next((v for k, v in reversed(self.writes) if k == key), None)


def _heartbeat(interval: float):
    from types import SimpleNamespace

    from toolbox_core.jobs.heartbeat import Heartbeat

    settings = SimpleNamespace(redis_url="redis://example:6379/0", jobs=SimpleNamespace(
        worker_heartbeat_seconds=interval, redis_namespace="toolbox"))
    keystore = _Beats()
    return Heartbeat(SimpleNamespace(settings=settings, keystore=keystore), threads=2), keystore


def test_a_heartbeat_started_twice_runs_one_thread():
    heartbeat, _ = _heartbeat(3600)
    heartbeat.start()
    first = heartbeat._thread
    heartbeat.start()
    try:
        assert heartbeat._thread is first
        import threading

        assert sum(t.name == "toolbox-heartbeat" for t in threading.enumerate()) == 1
    finally:
        heartbeat.stop()


def test_a_heartbeat_started_again_after_a_stop_beats_again():
    heartbeat, keystore = _heartbeat(0.05)
    heartbeat.start()
    heartbeat.stop()
    keystore.writes.clear()
    keystore.second.clear()
    heartbeat.start()
    try:
        assert keystore.second.wait(10), "the restarted heartbeat beats past its first beat"
    finally:
        heartbeat.stop()


def test_a_beat_writes_the_key_as_given_to_the_key_store_without_reparsing(monkeypatch):
    import json

    from toolbox_core.jobs import heartbeat as module
    from toolbox_core.jobs.heartbeat import HEARTBEAT_KEY, worker_status

    beat, keystore = _heartbeat(3600)
    monkeypatch.setattr(module.json, "loads", lambda *a, **k: pytest.fail("a beat re-parses its own JSON"))
    beat.beat()
    monkeypatch.undo()
    [(key, value)] = keystore.writes
    assert key == HEARTBEAT_KEY, "the Redis key store owns the namespace"
    assert json.loads(value)["threads"] == 2 and "at" in json.loads(value)
    assert worker_status(beat.toolbox)["status"] == "ok"

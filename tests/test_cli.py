"""The ``toolbox`` command line, run as a real process in an empty folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOOLBOX = str(Path(sys.executable).with_name("toolbox"))


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_") or k.startswith("TOOLBOX_TEST_")}
    base["COLUMNS"] = "250"
    return subprocess.run([TOOLBOX, *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout)


def test_plugins_lists_installed_plugins_with_version_and_state(tmp_path: Path) -> None:
    result = run("plugins", "--json", cwd=tmp_path, env={"TOOLBOX_PLUGINS": "example"})
    assert result.returncode == 0, result.stderr
    import json

    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["example"]["enabled"] is True
    assert rows["example"]["hooks"] == ["register_routes", "settings_model", "shipping_providers"]
    assert rows["payme"]["enabled"] is False
    from importlib.metadata import version

    assert rows["payme"]["version"] == version("toolbox-payme")


def test_plugins_with_an_unknown_name_exits_1_and_says_what_to_do(tmp_path: Path) -> None:
    result = run("plugins", cwd=tmp_path, env={"TOOLBOX_PLUGINS": "paymee"})
    assert result.returncode == 1
    assert "'paymee'" in result.stderr and "installed plugins:" in result.stderr


def test_config_prints_values_with_their_source_and_masks_secrets(tmp_path: Path) -> None:
    (tmp_path / "toolbox.toml").write_text('default_locale = "uz"\n')
    result = run(
        "config", "--json", cwd=tmp_path,
        env={"TOOLBOX_AUTH__SECRET_KEY": "do-not-print-this-long-random-server-key", "TOOLBOX_PLUGINS": "payme",
             "TOOLBOX_PAYME__MERCHANT_ID": "m-1", "TOOLBOX_PAYME__KEY": "payme-secret"},
    )
    assert result.returncode == 0, result.stderr
    assert "do-not-print" not in result.stdout and "payme-secret" not in result.stdout
    import json

    rows = {row["key"]: row for row in json.loads(result.stdout)}
    assert rows["default_locale"]["source"].startswith("file")
    assert rows["auth.secret_key"] == {"key": "auth.secret_key", "value": "********", "source": "env TOOLBOX_AUTH__SECRET_KEY"}
    assert rows["payme.merchant_id"]["value"] == "m-1"
    assert rows["payme.key"]["value"] == "********"


def test_migrate_creates_the_embedded_database_and_is_safe_twice(tmp_path: Path) -> None:
    first = run("migrate", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "toolbox.db").is_file()
    second = run("migrate", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]


def test_doctor_says_plainly_what_is_wrong(tmp_path: Path) -> None:
    result = run("doctor", cwd=tmp_path, env={"TOOLBOX_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1
    assert "not migrated: run `toolbox migrate`" in result.stdout
    assert "cannot reach redis://127.0.0.1:1/0" in result.stdout


def test_doctor_passes_on_a_migrated_embedded_store(tmp_path: Path) -> None:
    assert run("migrate", cwd=tmp_path).returncode == 0
    result = run("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "embedded mode" in result.stdout


def test_doctor_reports_a_missing_plugin_setting(tmp_path: Path) -> None:
    result = run("doctor", cwd=tmp_path, env={"TOOLBOX_PLUGINS": "payme"})
    assert result.returncode == 1
    assert "TOOLBOX_PAYME__MERCHANT_ID: is required but not set" in result.stdout


def test_doctor_reports_every_plugin_with_missing_settings_and_still_runs_the_other_checks(tmp_path: Path) -> None:
    assert run("migrate", cwd=tmp_path).returncode == 0
    result = run("doctor", cwd=tmp_path, env={"TOOLBOX_PLUGINS": "payme,click"})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split("'")[1] for line in lines if line.startswith("FAIL plugins:")] == ["payme", "click"]
    assert any(line.startswith("warn secret_key:") for line in lines)
    assert any(line.startswith("ok   database:") for line in lines)
    assert "2 check(s) failed" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_in_an_empty_folder_migrates_sqlite_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    proc = subprocess.Popen([TOOLBOX, "serve", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("toolbox serve did not become ready")
        assert (tmp_path / "toolbox.db").is_file()
    finally:
        proc.terminate()
        proc.wait(10)


def test_hook_register_commands_adds_a_plugin_command(tmp_path: Path) -> None:
    from tests.fakes.plugins import FakeSite

    site = FakeSite(tmp_path / "site")
    site.install(
        "greeter",
        """
        import typer
        from toolbox_core.api import hookimpl
        KERNEL_API = ">=1.0"
        @hookimpl
        def register_commands(cli):
            @cli.command("greet")
            def greet(name: str) -> None:
                typer.echo(f"salom, {name}")
        """,
    )
    env = {"PYTHONPATH": str(tmp_path / "site"), "TOOLBOX_PLUGINS": "greeter"}
    result = run("greet", "Dilnoza", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "salom, Dilnoza"
    disabled = run("greet", "Dilnoza", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert disabled.returncode != 0

"""``http.trusted_proxies``: ``toolbox serve`` believes ``X-Forwarded-For`` from them only (a real
process), unsafe values are refused, and ``toolbox doctor`` explains them."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from tests.test_cli import TOOLBOX, free_port
from toolbox_core.cli.main import proxy_options
from toolbox_core.clientip import install_proxy_headers
from toolbox_core.config import Settings
from toolbox_core.doctor import Check, abuse_checks

pytestmark = pytest.mark.usefixtures("clean_env")


@contextmanager
def served(folder: Path, **env: str) -> Iterator[str]:
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    # Debug: the log sender delivers codes; one code per address per hour makes buckets visible.
    base.update({"TOOLBOX_DEBUG": "true", "TOOLBOX_AUTH__OTP_MAX_PER_IP_PER_HOUR": "1", **env})
    proc = subprocess.Popen([TOOLBOX, "serve", "--port", str(port)], cwd=folder, env=base,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/ready", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise AssertionError("toolbox serve exited")
            time.sleep(0.1)
        else:
            raise AssertionError("toolbox serve did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def ask(url: str, phone: str, forwarded: str) -> int:
    return httpx.post(f"{url}/store/otp/request", json={"phone": phone},
                      headers={"X-Forwarded-For": forwarded}, timeout=10).status_code


def test_serve_ignores_forwarded_for_unless_the_peer_is_a_trusted_proxy(tmp_path: Path) -> None:
    # uvicorn alone trusts 127.0.0.1: any local process could pick its client address.
    with served(tmp_path) as url:
        assert [ask(url, "+998900000001", "203.0.113.1"), ask(url, "+998900000002", "203.0.113.2")] == [200, 429]


def test_serve_counts_each_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    with served(tmp_path, TOOLBOX_HTTP__TRUSTED_PROXIES="127.0.0.1") as url:
        assert ask(url, "+998900000001", "203.0.113.1") == 200
        assert ask(url, "+998900000002", "203.0.113.2") == 200
        assert ask(url, "+998900000003", "198.51.100.9, 203.0.113.1") == 429


def test_uvicorn_adds_no_proxy_layer_of_its_own_the_app_has_one() -> None:
    """One proxy-headers layer per request, the app's, whatever the setting (uvicorn's would
    be a second copy, trusting 127.0.0.1 when the setting is empty)."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    trusted = Settings(http={"trusted_proxies": ["10.0.0.0/8", "192.168.1.1"]})
    for settings in (Settings(), trusted):
        assert proxy_options(settings) == {"proxy_headers": False, "forwarded_allow_ips": None}
    app = FastAPI()
    install_proxy_headers(app, trusted.http.trusted_proxies)
    assert [m.cls for m in app.user_middleware] == [ProxyHeadersMiddleware]


# ------------------------------------------------------------------------------ settings
@pytest.mark.parametrize("value,problem", [
    ("*", "not an IP address"),
    ("0.0.0.0/0", "trusts every address"),
    ("::/0", "trusts every address"),
    ("proxy.local", "not an IP address"),
])
def test_unsafe_or_malformed_trusted_proxies_are_refused(value: str, problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(http={"trusted_proxies": value})
    assert problem in str(info.value)


def test_trusted_proxies_come_from_the_environment_as_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLBOX_HTTP__TRUSTED_PROXIES", "10.0.0.5, 172.16.0.0/12,fd00::/8")
    assert Settings().http.trusted_proxies == ["10.0.0.5/32", "172.16.0.0/12", "fd00::/8"]


# -------------------------------------------------------------------------------- doctor
def checks_of(**values: object) -> dict[str, Check]:
    return {check.name: check for check in abuse_checks(Settings(**values))}


def test_doctor_explains_the_trusted_proxies() -> None:
    none = checks_of()["trusted_proxies"]
    assert none.ok and "TOOLBOX_HTTP__TRUSTED_PROXIES" in none.message
    set_ = checks_of(http={"trusted_proxies": ["10.0.0.5"]})["trusted_proxies"]
    assert set_.ok and "10.0.0.5/32" in set_.message and "reachable through them alone" in set_.message
    broad = checks_of(http={"trusted_proxies": ["10.0.0.0/8"]})["trusted_proxies"]
    assert not broad.ok and "10.0.0.0/8 is too broad" in broad.message


def test_doctor_flags_a_daily_failed_check_cap_that_makes_guessing_practical() -> None:
    assert checks_of()["otp_limits"].ok
    loose = checks_of(auth={"otp_max_failed_per_day": 5000})["otp_limits"]
    assert not loose.ok and "TOOLBOX_AUTH__OTP_MAX_FAILED_PER_DAY" in loose.message


def test_doctor_names_the_redis_namespace() -> None:
    assert "redis_namespace" not in checks_of()
    named = checks_of(redis_url="redis://127.0.0.1:6379/0", jobs={"redis_namespace": "shopA"})
    assert "'shopA'" in named["redis_namespace"].message

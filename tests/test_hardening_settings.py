"""Safe defaults: the public secret, cookie flags, CORS and redirect origins outside the embedded mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolbox_core.checkout.return_url import allowed_return_url
from toolbox_core.config import DEFAULT_SECRET_KEY, ConfigError, Settings, load_settings
from toolbox_core.errors import InvalidInput

PG = "postgresql://shop@127.0.0.1:1/shop"  # never connected to: the checks run before
GOOD_KEY = "k" * 40
TOOLBOX = str(Path(sys.executable).with_name("toolbox"))


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    return subprocess.run([TOOLBOX, *args], cwd=cwd, env={**base, "COLUMNS": "250", **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("overrides", [{"database_url": PG}, {"redis_url": "redis://127.0.0.1:1/0"}])
@pytest.mark.parametrize("key", [DEFAULT_SECRET_KEY, "short-key"])
def test_the_default_or_a_short_secret_is_refused_outside_the_embedded_mode(clean_env, overrides, key):
    settings = load_settings(auth={"secret_key": key}, **overrides)
    with pytest.raises(ConfigError, match="TOOLBOX_AUTH__SECRET_KEY"):
        settings.check_safe_to_serve()


def test_a_long_secret_or_the_embedded_mode_may_serve(clean_env):
    load_settings(database_url=PG, auth={"secret_key": GOOD_KEY}).check_safe_to_serve()
    load_settings().check_safe_to_serve()  # SQLite, no Redis: a local trial


def test_serve_refuses_to_start_with_the_default_secret_and_postgresql(tmp_path):
    result = run("serve", "--no-migrate", cwd=tmp_path, env={"TOOLBOX_DATABASE_URL": PG})
    assert result.returncode == 1
    assert "TOOLBOX_AUTH__SECRET_KEY" in result.stderr and "insecure default" in result.stderr


def test_the_app_factory_used_by_worker_processes_refuses_it_too(clean_env, monkeypatch):
    from toolbox_core.app import create_app

    monkeypatch.setenv("TOOLBOX_REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="TOOLBOX_AUTH__SECRET_KEY"):
        create_app()


def test_doctor_and_config_say_insecure_default_in_the_embedded_mode(tmp_path):
    doctor = run("doctor", cwd=tmp_path, env={})
    assert "warn secret_key: insecure default" in doctor.stdout  # accepted here, flagged
    config = run("config", cwd=tmp_path, env={})
    assert "insecure default" in config.stdout
    fine = run("doctor", cwd=tmp_path, env={"TOOLBOX_AUTH__SECRET_KEY": GOOD_KEY})
    assert "ok   secret_key: auth.secret_key is set" in fine.stdout


def test_doctor_fails_the_default_secret_outside_the_embedded_mode(tmp_path):
    doctor = run("doctor", cwd=tmp_path, env={"TOOLBOX_DATABASE_URL": PG})
    assert "FAIL secret_key: insecure default" in doctor.stdout
    assert doctor.returncode == 1


def test_cookies_are_secure_by_default_outside_the_embedded_mode_and_debug(clean_env):
    production = load_settings(database_url=PG, auth={"secret_key": GOOD_KEY})
    assert production.auth.session_cookie_secure is True and production.cart.cookie_secure is True
    embedded, debug = load_settings(), load_settings(database_url=PG, debug=True)
    assert embedded.auth.session_cookie_secure is False and debug.cart.cookie_secure is False
    explicit = load_settings(database_url=PG, auth={"session_cookie_secure": False})
    assert explicit.auth.session_cookie_secure is False  # an explicit choice is kept (doctor flags it)


@pytest.mark.parametrize(("section", "prefix", "var"), [
    ("auth", "session_cookie", "TOOLBOX_AUTH__SESSION_COOKIE_SAMESITE"),
    ("cart", "cookie", "TOOLBOX_CART__COOKIE_SAMESITE"),
])
def test_samesite_none_without_secure_is_refused(clean_env, section, prefix, var):
    with pytest.raises(ConfigError, match=var):
        load_settings(**{section: {f"{prefix}_samesite": "none"}})
    allowed = load_settings(**{section: {f"{prefix}_samesite": "none", f"{prefix}_secure": True}})
    assert getattr(getattr(allowed, section), f"{prefix}_samesite") == "none"


def test_a_wildcard_cors_origin_is_refused_because_credentials_are_on(clean_env, monkeypatch):
    monkeypatch.setenv("TOOLBOX_CORS_ORIGINS", "*")
    with pytest.raises(ConfigError, match=r"TOOLBOX_CORS_ORIGINS.*exact origins"):
        load_settings()
    monkeypatch.setenv("TOOLBOX_CORS_ORIGINS", "https://shop.uz, https://www.shop.uz/")
    assert load_settings().cors_origins == ["https://shop.uz", "https://www.shop.uz"]


def test_return_url_is_accepted_only_on_a_storefront_origin():
    settings = Settings(database_url="sqlite://", storefront_origins=["https://shop.uz"])
    assert allowed_return_url(settings, "https://shop.uz/thanks?o=1") == "https://shop.uz/thanks?o=1"
    assert allowed_return_url(settings, None) is None
    for url in ("https://evil.example/phish", "https://shop.uz.evil.example/", "https://user@shop.uz/",
                "http://shop.uz/thanks", "//shop.uz/x", "https://shop.uz:99999/"):
        with pytest.raises(InvalidInput) as refused:
            allowed_return_url(settings, url)
        assert refused.value.code == "return_url_not_allowed", url
    # The scheme's default port is the same origin, written or not, on either side.
    assert allowed_return_url(settings, "https://SHOP.uz:443/x") == "https://SHOP.uz:443/x"
    with_port = Settings(database_url="sqlite://", storefront_origins=["https://shop.uz:443", "http://localhost:3000"])
    assert allowed_return_url(with_port, "https://shop.uz/x") == "https://shop.uz/x"
    assert allowed_return_url(with_port, "http://localhost:3000/ok") == "http://localhost:3000/ok"
    for url in ("https://shop.uz:8443/x", "http://localhost/x", "https://[::1/x"):
        with pytest.raises(InvalidInput):
            allowed_return_url(with_port, url)
    nothing_configured = Settings(database_url="sqlite://")
    with pytest.raises(InvalidInput, match="TOOLBOX_STOREFRONT_ORIGINS"):
        allowed_return_url(nothing_configured, "https://shop.uz/thanks")
    # Unset, the CORS origins (the storefront's browser origin) are used.
    assert allowed_return_url(Settings(database_url="sqlite://", cors_origins=["https://shop.uz"]), "https://shop.uz/")


@pytest.mark.parametrize("name", ["toolbox cart", "cart;Path=/x", "cart=x", 'c"', "", "c" * 65])
def test_a_cookie_name_that_would_break_set_cookie_is_refused(clean_env, name):
    with pytest.raises(ConfigError):
        load_settings(cart={"cookie_name": name})
    with pytest.raises(ConfigError):
        load_settings(auth={"session_cookie_name": name})


def test_a_cookie_name_with_token_characters_is_accepted(clean_env):
    assert load_settings(cart={"cookie_name": "shop.cart-v2"}).cart.cookie_name == "shop.cart-v2"

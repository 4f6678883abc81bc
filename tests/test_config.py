"""Configuration: environment, TOML file, defaults, provenance and secret masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolbox_core.config import ConfigError, explain, load_settings, mask_url


def test_embedded_defaults_need_no_configuration(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./toolbox.db"
    assert settings.redis_url is None
    assert settings.embedded_jobs is True
    assert settings.storage.backend == "local"
    assert settings.plugins == []


def test_environment_variables_use_the_prefix_and_nested_sections(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOOLBOX_PLUGINS", "payme, click")
    monkeypatch.setenv("TOOLBOX_STORAGE__BACKEND", "s3")
    monkeypatch.setenv("TOOLBOX_AUTH__OTP_TTL_SECONDS", "600")
    monkeypatch.setenv("TOOLBOX_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings()
    assert settings.plugins == ["payme", "click"]
    assert settings.storage.backend == "s3"
    assert settings.auth.otp_ttl_seconds == 600
    assert settings.embedded_jobs is False


def test_toml_file_is_read_and_environment_wins(clean_env: Path, monkeypatch) -> None:
    (clean_env / "toolbox.toml").write_text(
        'plugins = ["payme"]\ndefault_locale = "uz"\n[cart]\ncookie_name = "basket"\n'
    )
    monkeypatch.setenv("TOOLBOX_DEFAULT_LOCALE", "ru")
    settings = load_settings()
    assert settings.plugins == ["payme"]
    assert settings.cart.cookie_name == "basket"
    assert settings.default_locale == "ru"


def test_config_file_path_can_be_chosen(clean_env: Path, monkeypatch) -> None:
    path = clean_env / "conf" / "store.toml"
    path.parent.mkdir()
    path.write_text('default_locale = "uz"\n')
    monkeypatch.setenv("TOOLBOX_CONFIG", str(path))
    assert load_settings().default_locale == "uz"


def test_postgres_urls_are_normalized_to_psycopg(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOOLBOX_DATABASE_URL", "postgres://u:p@db/shop")
    assert load_settings().database_url == "postgresql+psycopg://u:p@db/shop"


def test_invalid_values_name_the_environment_variable(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOOLBOX_AUTH__OTP_MAX_ATTEMPTS", "zero")
    with pytest.raises(ConfigError, match="TOOLBOX_AUTH__OTP_MAX_ATTEMPTS"):
        load_settings()


def test_broken_toml_is_a_clear_error(clean_env: Path) -> None:
    (clean_env / "toolbox.toml").write_text("plugins = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings()


def test_secrets_are_masked_when_settings_are_printed(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOOLBOX_DATABASE_URL", "postgresql://shop:hunter2@db/shop")
    monkeypatch.setenv("TOOLBOX_AUTH__SECRET_KEY", "very-secret")
    monkeypatch.setenv("TOOLBOX_STORAGE__S3_SECRET_ACCESS_KEY", "aws-secret")
    settings = load_settings()
    printed = repr(settings) + str(settings.masked())
    for secret in ("hunter2", "very-secret", "aws-secret"):
        assert secret not in printed
    assert settings.masked()["database_url"] == "postgresql+psycopg://shop:********@db/shop"


def test_explain_says_where_each_value_came_from(clean_env: Path, monkeypatch) -> None:
    (clean_env / "toolbox.toml").write_text('default_locale = "uz"\n')
    monkeypatch.setenv("TOOLBOX_CART__COOKIE_NAME", "basket")
    rows = {row.key: row for row in explain(load_settings())}
    assert rows["cart.cookie_name"].source == "env TOOLBOX_CART__COOKIE_NAME"
    assert rows["default_locale"].source.startswith("file ")
    assert rows["database_url"].source == "default"
    # The public default is masked like any secret, but not passed off as a set one.
    assert rows["auth.secret_key"].value == "******** (insecure default)"


def test_mask_url_leaves_urls_without_password_alone() -> None:
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert mask_url("redis://:pw@host:6379") == "redis://:********@host:6379"

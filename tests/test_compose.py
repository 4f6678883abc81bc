"""compose.yaml describes production with the same setting names the kernel reads."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel

from toolbox_core.config import ENV_NESTED, ENV_PREFIX, Settings

COMPOSE = Path(__file__).resolve().parent.parent / "compose.yaml"


def setting_exists(variable: str) -> bool:
    """Does ``TOOLBOX_A__B`` name a field of Settings (following nested sections)?"""
    path = variable[len(ENV_PREFIX) :].lower().split(ENV_NESTED)
    model: type[BaseModel] = Settings
    for i, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(path) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_compose_defines_the_production_services() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"postgres", "redis", "meilisearch", "minio", "api", "worker", "migrate"} <= set(services)
    assert services["worker"]["command"][:2] == ["toolbox", "worker"]
    assert "--workers" in services["api"]["command"]


def test_every_toolbox_variable_in_compose_is_a_real_setting() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    variables = set()
    for service in compose["services"].values():
        variables |= {k for k in (service.get("environment") or {}) if k.startswith(ENV_PREFIX)}
    assert len(variables) >= 10
    unknown = sorted(v for v in variables if v != "TOOLBOX_PLUGINS" and not setting_exists(v))
    assert not unknown, f"compose.yaml sets variables the kernel does not read: {unknown}"
    assert setting_exists("TOOLBOX_PLUGINS")


def test_compose_keeps_secrets_out_of_the_file() -> None:
    env = yaml.safe_load(COMPOSE.read_text())["x-toolbox-env"]
    for key in ("TOOLBOX_AUTH__SECRET_KEY", "TOOLBOX_STORAGE__S3_SECRET_ACCESS_KEY", "TOOLBOX_SEARCH__MEILISEARCH_API_KEY"):
        assert env[key].startswith("${"), f"{key} must come from the environment"

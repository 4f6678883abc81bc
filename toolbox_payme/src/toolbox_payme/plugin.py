"""Entry point of the payme plugin (group ``toolbox.plugins``, name ``payme``).

Payme calls ``POST /payme/callback`` (the Merchant API); the ``payme`` payment provider sends
payers to the Payme checkout. See the README for the setup in the Payme merchant cabinet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from toolbox_core.api import DoctorCheck, Toolbox, hookimpl
from toolbox_payme.settings import PaymeSettings

KERNEL_API = ">=1.1,<2"

__all__ = ["KERNEL_API", "PaymeSettings"]


def _settings(toolbox: Toolbox) -> PaymeSettings:
    settings = toolbox.plugin_settings("payme")
    assert isinstance(settings, PaymeSettings)
    return settings


def merchant_for(toolbox: Toolbox) -> Any:
    """The Merchant API handler of this toolbox."""
    from toolbox_payme.credentials import Credentials
    from toolbox_payme.merchant import Merchant

    settings = _settings(toolbox)
    return Merchant(toolbox, settings, Credentials(toolbox, settings))


@hookimpl
def settings_model() -> type[BaseModel]:
    return PaymeSettings


@hookimpl
def payment_providers(toolbox: Toolbox) -> list[Any]:
    from toolbox_payme.provider import PaymeProvider

    return [PaymeProvider(_settings(toolbox))]


@hookimpl
def register_routes(toolbox: Toolbox) -> list[APIRouter]:
    from toolbox_payme.routes import build_admin_router, build_callback_router

    return [build_callback_router(merchant_for(toolbox)), build_admin_router(toolbox)]


@hookimpl
def migrations() -> str:
    import toolbox_payme.models  # noqa: F401  (registers the tables)

    return str(Path(__file__).resolve().parent / "migrations" / "versions")


@hookimpl
def doctor_checks(toolbox: Toolbox) -> list[DoctorCheck]:
    from toolbox_payme.doctor import checks

    return checks(toolbox, _settings(toolbox))

"""Entry point of the bts plugin (group ``toolbox.plugins``, name ``bts``): BTS Express delivery.

Prices on the server (calculator cached per route and weight bracket, or the tariff table),
the directory of regions/cities/branches, shipments when orders are ready, tracking by
webhook and polling. See the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from toolbox_bts import checks, jobs, routes
from toolbox_bts.provider import BtsProvider
from toolbox_bts.settings import BtsSettings
from toolbox_core.api import DoctorCheck, ScheduledJob, Subscriber, Toolbox, hookimpl

KERNEL_API = ">=1.1,<2"

__all__ = ["KERNEL_API", "BtsSettings"]


@hookimpl
def settings_model() -> type[BaseModel]:
    return BtsSettings


@hookimpl
def migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def shipping_providers(toolbox: Toolbox) -> list[Any]:
    return [BtsProvider(toolbox, toolbox.plugin_settings("bts"))]


@hookimpl
def register_routes(toolbox: Toolbox) -> list[APIRouter]:
    return [routes.build_router(toolbox, toolbox.plugin_settings("bts"))]


@hookimpl
def event_subscribers(toolbox: Toolbox) -> list[Subscriber]:
    return [
        Subscriber("bts.ship_when_ready", ("order.placed", "payment.captured"), jobs.ship_when_ready,
                   max_retries=20),
        Subscriber("bts.cancel_with_order", ("order.canceled",), jobs.cancel_with_order, max_retries=20),
    ]


@hookimpl
def scheduled_jobs(toolbox: Toolbox) -> list[ScheduledJob]:
    settings: BtsSettings = toolbox.plugin_settings("bts")
    return [
        ScheduledJob("bts.sync_directory", jobs.sync_directory,
                     interval_seconds=settings.directory_sync_interval_seconds,
                     description="Copy BTS regions, cities and branches into our tables"),
        ScheduledJob("bts.poll_tracking", jobs.poll_tracking, interval_seconds=settings.poll_interval_seconds,
                     description="Ask BTS for the status of shipments not yet final"),
    ]


@hookimpl
def doctor_checks(toolbox: Toolbox) -> list[DoctorCheck]:
    return checks.doctor_checks(toolbox)


@hookimpl
def shutdown(toolbox: Toolbox) -> None:
    provider = toolbox.shipping_providers.get("bts")
    if provider is not None:
        provider.close()

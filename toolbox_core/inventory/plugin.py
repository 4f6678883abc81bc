"""Built-in plugin: stock admin routes, the inventory event and the source sync job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from toolbox_core.events.types import EventType, ScheduledJob
from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.inventory"


def sync_inventory_sources(toolbox: Any, progress: Any = None) -> dict[str, int]:
    """Scheduled job: apply the stocked quantities every inventory source reports."""
    from toolbox_core.inventory.service import sync_from_sources

    return sync_from_sources(toolbox)


@hookimpl
def register_routes(toolbox: Any) -> list[APIRouter]:
    from toolbox_core.inventory import admin_api

    return [admin_api.build_router(toolbox)]


@hookimpl
def scheduled_jobs(toolbox: Any) -> list[ScheduledJob]:
    if not toolbox.inventory_sources:
        return []
    return [ScheduledJob("inventory.sync_sources", sync_inventory_sources, interval_seconds=15 * 60,
                         description="Apply stocked quantities from inventory sources (MoySklad)")]


@hookimpl
def event_types() -> list[EventType]:
    return [EventType("inventory.updated", "Stock of some SKUs changed", {
        "skus": "list of SKUs whose stocked or reserved quantity changed",
        "reason": "released | sold | restocked | admin | <inventory source id>",
        "order_id": "the order that caused it, or null",
    })]

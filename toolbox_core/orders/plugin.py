"""Built-in plugin: order routes for the store and the admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.orders"


@hookimpl
def register_routes(toolbox: Any) -> list[APIRouter]:
    from toolbox_core.orders import admin_api, store_api

    return [store_api.build_router(toolbox), admin_api.build_router(toolbox)]

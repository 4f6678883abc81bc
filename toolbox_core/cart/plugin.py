"""Built-in plugin: the store's cart API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.cart"


@hookimpl
def register_routes(toolbox: Any) -> list[APIRouter]:
    from toolbox_core.cart.store_api import build_router

    return [build_router(toolbox)]

"""Built-in plugin: the admin view of installed plugins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.system"


@hookimpl
def register_routes(toolbox: Any) -> list[APIRouter]:
    from toolbox_core.admin.auth import require_admin

    router = APIRouter(prefix="/admin", tags=["admin: system"], dependencies=[Depends(require_admin("plugins:read"))])

    @router.get("/plugins", summary="Installed plugins: version, enabled, hooks implemented")
    def list_plugins(request: Request) -> dict[str, Any]:
        return request.app.state.toolbox.describe()

    return [router]

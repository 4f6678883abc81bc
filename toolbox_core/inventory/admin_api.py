"""Admin API for stock: read levels of a SKU, set stocked quantities, pull from sources."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from toolbox_core.admin.auth import require_admin
from toolbox_core.inventory import service as inventory
from toolbox_core.inventory.locations import DEFAULT_LOCATION_CODE
from toolbox_core.params import PathKey
from toolbox_core.providers import StockLevel


class LevelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=100)
    stocked: StrictInt = Field(ge=0, le=10**9)
    location_code: str = Field(DEFAULT_LOCATION_CODE, min_length=1, max_length=64)


class LevelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: list[LevelIn] = Field(min_length=1, max_length=5000)


def _view(level: inventory.LevelView) -> dict[str, Any]:
    return asdict(level) | {"available": level.available}


def build_router(toolbox: Any) -> APIRouter:
    router = APIRouter(prefix="/admin/inventory", tags=["admin: inventory"])

    @router.get("/{sku}", dependencies=[Depends(require_admin("inventory:read"))], summary="Levels of one SKU")
    def get_levels(sku: PathKey) -> dict[str, Any]:
        with toolbox.db.session() as session:
            return {"sku": sku, "levels": [_view(x) for x in inventory.levels(session, sku)]}

    @router.put("", dependencies=[Depends(require_admin("inventory:write"))],
                summary="Set stocked quantities (reservations are kept)")
    def set_levels(body: LevelsIn) -> dict[str, Any]:
        with toolbox.db.transaction() as session:
            skus = inventory.apply_levels(
                session, [StockLevel(x.sku, x.stocked, x.location_code) for x in body.levels], source="admin")
        return {"updated": skus}

    @router.post("/sync", dependencies=[Depends(require_admin("inventory:write"))],
                 summary="Pull stocked quantities from every inventory source now")
    def sync() -> dict[str, Any]:
        return {"sources": inventory.sync_from_sources(toolbox)}

    return router

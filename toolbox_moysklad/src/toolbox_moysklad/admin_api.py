"""Admin API: the last sync reports (``GET /admin/moysklad/reports``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import select

from toolbox_core.api import NotFound, Toolbox, iso_utc, require_admin
from toolbox_moysklad.models import MoySkladSyncRun


def run_view(run: MoySkladSyncRun) -> dict[str, Any]:
    return {"id": run.id, "kind": run.kind, "trigger": run.trigger, "status": run.status, "dry_run": run.dry_run,
            "started_at": iso_utc(run.started_at),
            "finished_at": iso_utc(run.finished_at),
            "fetched": run.fetched, "requests": run.requests, "error": run.error, "report": run.report}


def last_runs(toolbox: Toolbox, limit: int = 20) -> list[dict[str, Any]]:
    with toolbox.db.session() as session:
        rows = session.scalars(select(MoySkladSyncRun).order_by(MoySkladSyncRun.started_at.desc()).limit(limit))
        return [run_view(r) for r in rows]


def build_router(toolbox: Toolbox) -> APIRouter:
    router = APIRouter(prefix="/admin/moysklad", tags=["admin: moysklad"])

    @router.get("/reports", dependencies=[Depends(require_admin("inventory:read"))],
                summary="The last MoySklad sync runs with their reports")
    def reports(limit: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
        return {"reports": last_runs(toolbox, limit)}

    @router.get("/reports/{run_id}", dependencies=[Depends(require_admin("inventory:read"))],
                summary="One MoySklad sync run")
    def report(run_id: str = Path(max_length=40, description="the run's id")) -> dict[str, Any]:
        with toolbox.db.session() as session:
            run = session.get(MoySkladSyncRun, run_id)
            if run is None:
                raise NotFound("no such run")
            return run_view(run)

    return router

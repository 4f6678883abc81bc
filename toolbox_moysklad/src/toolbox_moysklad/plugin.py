"""Entry point of the moysklad plugin (group ``toolbox.plugins``, name ``moysklad``).

Stock follows MoySklad: a scheduled, never-overlapping sync (full daily, incremental every 15
minutes), stock webhooks, a report per run, a zeroing guard. See the README for setup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from toolbox_core.api import (
    DoctorCheck,
    EventType,
    JobSpec,
    ScheduledJob,
    Toolbox,
    hookimpl,
    tables_check,
)
from toolbox_moysklad import admin_api, webhooks
from toolbox_moysklad.settings import MoySkladSettings
from toolbox_moysklad.sync import JOB_NAME, run_scheduled, settings_of

KERNEL_API = ">=1.1,<2"

__all__ = ["KERNEL_API", "MoySkladSettings"]


@hookimpl
def settings_model() -> type[BaseModel]:
    return MoySkladSettings


@hookimpl
def migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def register_routes(toolbox: Toolbox) -> list[APIRouter]:
    return [webhooks.build_router(toolbox), admin_api.build_router(toolbox)]


@hookimpl
def register_jobs(toolbox: Toolbox) -> list[JobSpec]:
    return [JobSpec(webhooks.FOLLOW_JOB, lambda request_id: webhooks.follow(toolbox, request_id),
                    queue="moysklad")]


@hookimpl
def scheduled_jobs(toolbox: Toolbox) -> list[ScheduledJob]:
    minutes = settings_of(toolbox).sync_interval_minutes
    return [ScheduledJob(JOB_NAME, run_scheduled, interval_seconds=minutes * 60,
                         description="Stock from MoySklad (full daily, changes in between)")]


@hookimpl
def event_types() -> list[EventType]:
    return [EventType("moysklad.sync_blocked", "A MoySklad sync stopped before writing: it would zero too much", {
        "run_id": "the sync run (toolbox moysklad reports)",
        "zeroed": "how many levels it would have set to 0",
        "catalog": "catalog size it was compared with",
        "reason": "a sentence for the alert",
    })]


@hookimpl
def register_commands(cli: Any) -> None:
    from toolbox_moysklad.cli import moysklad_app

    cli.add_typer(moysklad_app, name="moysklad")


@hookimpl
def doctor_checks(toolbox: Toolbox) -> list[DoctorCheck]:
    from sqlalchemy.exc import DBAPIError

    from toolbox_core.api import KeyStoreUnavailable
    from toolbox_moysklad.client import MoySkladClient, MoySkladError, Unreachable
    from toolbox_moysklad.models import MoySkladItem, MoySkladSyncRun, MoySkladWebhook

    settings = settings_of(toolbox)
    tables = tables_check(toolbox, "moysklad", MoySkladItem, MoySkladSyncRun, MoySkladWebhook)
    checks = [tables]
    try:
        with MoySkladClient(settings.model_copy(update={"timeout_seconds": 10.0}), toolbox.keystore) as client:
            who = client.get("/context/employee") or {}
        checks.append(DoctorCheck("moysklad: API and token", True, f"connected as {who.get('name') or 'employee'}"))
    except Unreachable as exc:
        checks.append(DoctorCheck("moysklad: API and token", False, f"{exc}; try again later"))
    except MoySkladError as exc:
        hint = "check TOOLBOX_MOYSKLAD__TOKEN (or LOGIN/PASSWORD)" if exc.status in (401, 403) else "try again later"
        checks.append(DoctorCheck("moysklad: API and token", False, f"MoySklad answered {exc.status}: {hint}"))
    except (DBAPIError, KeyStoreUnavailable) as exc:  # the rate limits live in the database key store, not created before migrate
        checks.append(DoctorCheck("moysklad: API and token", True, "not checked: the key store cannot be read "
                                  f"({_kind(exc)}): run `toolbox migrate` if it has not run", warning=True))
    if settings.public_url and settings.webhook_token is None:
        checks.append(DoctorCheck("moysklad: webhooks", False, "public_url is set but webhook_token is not"))
    if not tables.ok:
        checks.append(DoctorCheck("moysklad: last sync", True, "not checked: the MoySklad tables are missing "
                                                               "(run toolbox migrate)", warning=True))
        return checks
    from toolbox_moysklad.admin_api import last_runs

    last = last_runs(toolbox, 1)
    if last and last[0]["status"] in ("blocked", "failed"):
        checks.append(DoctorCheck("moysklad: last sync", False,
                                  f"the last run is {last[0]['status']}: see `toolbox moysklad reports`"))
    return checks


def _kind(exc: Exception) -> str:
    """The error's kind: the database driver's (``UndefinedTable``) or the key store's."""
    return type(getattr(exc, "orig", None) or exc).__name__

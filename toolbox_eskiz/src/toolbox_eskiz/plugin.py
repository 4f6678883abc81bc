"""Entry point of the eskiz plugin (group ``toolbox.plugins``, name ``eskiz``): Eskiz SMS.

Sign-in codes (OTP sender ``eskiz``), an SMS notification channel, order/payment/shipment SMS
from events (through ``toolbox.notify`` jobs), message records with delivery reports, the
``toolbox eskiz`` commands and ``toolbox doctor`` checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from toolbox_core.api import (
    DoctorCheck,
    NotificationTemplate,
    Subscriber,
    Toolbox,
    hookimpl,
    tables_check,
)
from toolbox_eskiz.settings import EskizSettings

if TYPE_CHECKING:  # pragma: no cover
    import typer
    from fastapi import APIRouter

KERNEL_API = ">=1.1,<2"

__all__ = ["EskizSettings"]


@hookimpl
def settings_model() -> type[BaseModel]:
    return EskizSettings


@hookimpl
def migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def notification_channels(toolbox: Toolbox) -> list[Any]:
    from toolbox_eskiz.senders import EskizChannel

    return [EskizChannel(toolbox)]


@hookimpl
def otp_senders(toolbox: Toolbox) -> list[Any]:
    from toolbox_eskiz.senders import EskizOtpSender

    return [EskizOtpSender(toolbox)]


@hookimpl
def notification_templates(toolbox: Toolbox) -> list[NotificationTemplate]:
    from toolbox_eskiz.senders import TEMPLATES

    return list(TEMPLATES)


@hookimpl
def event_subscribers(toolbox: Toolbox) -> list[Subscriber]:
    from toolbox_eskiz.senders import subscribers

    return subscribers(toolbox)


@hookimpl
def register_routes(toolbox: Toolbox) -> list[APIRouter]:
    from toolbox_eskiz.routes import build_router

    return build_router(toolbox)


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    from toolbox_eskiz.cli import eskiz_app

    cli.add_typer(eskiz_app, name="eskiz")


@hookimpl
def doctor_checks(toolbox: Toolbox) -> list[DoctorCheck]:
    """The table, a token check (login or a stored token) and the balance; messages carry no secret."""
    from sqlalchemy.exc import DBAPIError

    from toolbox_core.api import KeyStoreUnavailable
    from toolbox_eskiz.errors import EskizError
    from toolbox_eskiz.models import EskizMessage
    from toolbox_eskiz.runtime import service_of

    checks = [tables_check(toolbox, "eskiz", EskizMessage, name="eskiz tables")]
    client = service_of(toolbox).client
    try:
        left = client.check_token()
    except EskizError as exc:
        return [*checks, DoctorCheck("eskiz token", False, str(exc))]
    except (DBAPIError, KeyStoreUnavailable) as exc:  # the token is kept in the database key store, not created before migrate
        return [*checks, DoctorCheck("eskiz token", True, "not checked: the key store cannot be read "
                                     f"({_kind(exc)}): run `toolbox migrate` if it has not run", warning=True)]
    checks.append(DoctorCheck("eskiz token", True, f"valid for {int(left // 86400)} more days"))
    try:
        amount = client.balance()
        checks.append(DoctorCheck("eskiz balance", amount > 0,
                                  f"balance {amount}" + ("" if amount > 0 else ": top up in my.eskiz.uz")))
    except EskizError as exc:
        checks.append(DoctorCheck("eskiz balance", False, str(exc)))
    if toolbox.settings.auth.otp_sender != "eskiz":
        checks.append(DoctorCheck("eskiz otp", True, "sign-in codes are not sent by Eskiz "
                                  "(set TOOLBOX_AUTH__OTP_SENDER=eskiz to use it)"))
    return checks


@hookimpl
def shutdown(toolbox: Toolbox) -> None:
    from toolbox_eskiz.runtime import close

    close(toolbox)


def _kind(exc: Exception) -> str:
    """The error's kind: the database driver's (``UndefinedTable``) or the key store's."""
    return type(getattr(exc, "orig", None) or exc).__name__

"""Entry point of the click plugin (group ``toolbox.plugins``, name ``click``).

Click SHOP API payments: the ``click`` payment provider (redirect to my.click.uz), the
Prepare/Complete callbacks, refunds by reversal and invoices through the Merchant API, an
admin listing, and ``toolbox doctor`` checks. See the README for the setup steps.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from toolbox_click.doctor import checks
from toolbox_click.merchant_api import ClickMerchantApi
from toolbox_click.provider import ClickProvider
from toolbox_click.refunds import on_refund_required
from toolbox_click.routes import admin_router, shop_router
from toolbox_click.settings import ClickSettings
from toolbox_core.api import DoctorCheck, Subscriber, hookimpl

KERNEL_API = ">=1.1,<2"

__all__ = ["KERNEL_API", "ClickSettings"]

#: One Merchant API client per running toolbox (its connection pool), closed at shutdown.
_clients: weakref.WeakKeyDictionary[Any, ClickMerchantApi] = weakref.WeakKeyDictionary()


def _settings(toolbox: Any) -> ClickSettings:
    return toolbox.plugin_settings("click")  # type: ignore[no-any-return]


def merchant_api(toolbox: Any) -> ClickMerchantApi:
    """The Merchant API client of this toolbox."""
    if toolbox not in _clients:
        _clients[toolbox] = ClickMerchantApi(_settings(toolbox))
    return _clients[toolbox]


@hookimpl
def settings_model() -> type[BaseModel]:
    return ClickSettings


@hookimpl
def payment_providers(toolbox: Any) -> list[Any]:
    return [ClickProvider(toolbox, _settings(toolbox), merchant_api(toolbox))]


@hookimpl
def register_routes(toolbox: Any) -> list[Any]:
    return [shop_router(toolbox, _settings(toolbox)), admin_router(toolbox, merchant_api(toolbox))]


@hookimpl
def event_subscribers(toolbox: Any) -> list[Subscriber]:
    return [Subscriber("click.reverse_late_capture", ("payment.refund_required",),
                       lambda event, toolbox: on_refund_required(toolbox, merchant_api(toolbox), event))]


@hookimpl
def migrations() -> str:
    return str(Path(__file__).resolve().parent / "migrations" / "versions")


@hookimpl
def doctor_checks(toolbox: Any) -> list[DoctorCheck]:
    return checks(toolbox, _settings(toolbox))


@hookimpl
def shutdown(toolbox: Any) -> None:
    client = _clients.pop(toolbox, None)
    if client is not None:
        client.close()

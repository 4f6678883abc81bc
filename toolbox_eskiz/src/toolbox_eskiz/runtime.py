"""One Eskiz client and SMS service per running toolbox (built on first use, closed on shutdown)."""

from __future__ import annotations

import weakref
from typing import cast

from toolbox_core.api import Toolbox
from toolbox_eskiz.client import EskizClient
from toolbox_eskiz.service import SmsService
from toolbox_eskiz.settings import EskizSettings

_services: weakref.WeakKeyDictionary[Toolbox, SmsService] = weakref.WeakKeyDictionary()


def settings_of(toolbox: Toolbox) -> EskizSettings:
    return cast(EskizSettings, toolbox.plugin_settings("eskiz"))


def service_of(toolbox: Toolbox) -> SmsService:
    """The toolbox's :class:`SmsService` (its HTTP client holds no secrets: the token is in the key store)."""
    service = _services.get(toolbox)
    if service is None:
        settings = settings_of(toolbox)
        service = SmsService(toolbox, settings, EskizClient(settings, toolbox.keystore))
        _services[toolbox] = service
    return service


def close(toolbox: Toolbox) -> None:
    service = _services.pop(toolbox, None)
    if service is not None:
        service.client.close()

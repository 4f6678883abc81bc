"""Entry point of the moysklad plugin (group ``toolbox.plugins``, name ``moysklad``).

The integration itself is tracked in its own issue; this module declares the plugin, the
kernel API it supports and its settings, so it can be discovered, configured and enabled.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from toolbox_core.api import hookimpl

KERNEL_API = ">=1.0,<2"

class MoySkladSettings(BaseModel):
    """MoySklad JSON API 1.2 access token."""

    token: SecretStr
    base_url: str = "https://api.moysklad.ru/api/remap/1.2"
    sync_interval_minutes: int = 15


@hookimpl
def settings_model() -> type[BaseModel]:
    return MoySkladSettings

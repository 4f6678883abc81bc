"""Entry point of the eskiz plugin (group ``toolbox.plugins``, name ``eskiz``).

The integration itself is tracked in its own issue; this module declares the plugin, the
kernel API it supports and its settings, so it can be discovered, configured and enabled.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from toolbox_core.api import hookimpl

KERNEL_API = ">=1.0,<2"

class EskizSettings(BaseModel):
    """Eskiz account: the e-mail and the API secret from the my.eskiz.uz cabinet."""

    email: str
    password: SecretStr
    sender: str = "4546"
    base_url: str = "https://notify.eskiz.uz/api"


@hookimpl
def settings_model() -> type[BaseModel]:
    return EskizSettings

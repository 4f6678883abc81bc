"""Entry point of the bts plugin (group ``toolbox.plugins``, name ``bts``).

The integration itself is tracked in its own issue; this module declares the plugin, the
kernel API it supports and its settings, so it can be discovered, configured and enabled.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from toolbox_core.api import hookimpl

KERNEL_API = ">=1.0,<2"

class BtsSettings(BaseModel):
    """BTS Express API credentials."""

    username: str
    password: SecretStr
    base_url: str = "https://api.bts.uz:8080/index.php"


@hookimpl
def settings_model() -> type[BaseModel]:
    return BtsSettings

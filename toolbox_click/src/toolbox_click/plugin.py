"""Entry point of the click plugin (group ``toolbox.plugins``, name ``click``).

The integration itself is tracked in its own issue; this module declares the plugin, the
kernel API it supports and its settings, so it can be discovered, configured and enabled.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from toolbox_core.api import hookimpl

KERNEL_API = ">=1.0,<2"

class ClickSettings(BaseModel):
    """Click merchant values; ``secret_key`` signs Prepare/Complete requests."""

    service_id: int
    merchant_id: int
    secret_key: SecretStr
    merchant_user_id: int | None = None


@hookimpl
def settings_model() -> type[BaseModel]:
    return ClickSettings

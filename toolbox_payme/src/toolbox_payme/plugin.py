"""Entry point of the payme plugin (group ``toolbox.plugins``, name ``payme``).

The integration itself is tracked in its own issue; this module declares the plugin, the
kernel API it supports and its settings, so it can be discovered, configured and enabled.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from toolbox_core.api import hookimpl

KERNEL_API = ">=1.0,<2"

class PaymeSettings(BaseModel):
    """Payme merchant cabinet values; ``key`` is the cashbox secret used for Basic auth."""

    merchant_id: str
    key: SecretStr
    test_mode: bool = True
    checkout_url: str = "https://checkout.paycom.uz"


@hookimpl
def settings_model() -> type[BaseModel]:
    return PaymeSettings

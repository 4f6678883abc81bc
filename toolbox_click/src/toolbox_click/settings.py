"""Settings of the Click plugin: ``[click]`` in ``toolbox.toml`` or ``TOOLBOX_CLICK__<FIELD>``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ClickSettings(BaseModel):
    """The values Click gives a merchant, and how the plugin talks to Click.

    ``secret_key`` signs the SHOP API callbacks (MD5) and the Merchant API ``Auth`` header
    (SHA-1); it is a :class:`SecretStr`, so it never appears in logs or ``repr``.
    """

    model_config = ConfigDict(extra="forbid")

    service_id: int = Field(gt=0, lt=2**31)
    merchant_id: int = Field(gt=0, lt=2**31)
    secret_key: SecretStr = Field(min_length=1, max_length=200)
    #: Needed by the Merchant API (refunds by reversal, invoices, status reads).
    merchant_user_id: int | None = Field(None, gt=0, lt=2**31)
    #: The payment page the shopper is redirected to.
    pay_url: str = Field("https://my.click.uz/services/pay", pattern=r"^https?://", max_length=500)
    #: Base URL of the Merchant API (ends with ``/``).
    api_url: str = Field("https://api.click.uz/v2/merchant/", pattern=r"^https?://.*/$", max_length=500)
    #: Preselect the card type on the payment page.
    card_type: Literal["uzcard", "humo"] | None = None
    #: Where Click sends the shopper back when the checkout gave no ``return_url``.
    return_url: str | None = Field(None, pattern=r"^https?://", max_length=2000)
    #: After a successful Prepare the order is held this long for Click's Complete (the
    #: payment-timeout job leaves it alone meanwhile).
    prepare_hold_seconds: int = Field(1800, ge=60, le=86_400)
    #: How long an unpaid Click order waits for Prepare before it is canceled (``None``: the
    #: kernel's ``checkout.payment_timeout_seconds``).
    payment_timeout_seconds: int | None = Field(None, ge=60, le=7 * 86_400)
    #: Timeout of every Merchant API call, seconds.
    http_timeout_seconds: float = Field(10.0, gt=0, le=60)

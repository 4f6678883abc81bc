"""The plugin's settings: ``[eskiz]`` in ``toolbox.toml`` or ``TOOLBOX_ESKIZ__<FIELD>``."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, Field, SecretStr


class EskizSettings(BaseModel):
    """Eskiz account and behaviour. ``password`` is the API secret from the my.eskiz.uz cabinet."""

    email: str = Field(min_length=3, max_length=200)
    password: SecretStr
    #: Sender nick: ``4546`` (Eskiz's default and test nick) or one registered to the account.
    sender: str = Field("4546", min_length=1, max_length=20)
    base_url: str = "https://notify.eskiz.uz/api"
    #: Seconds for connecting to and waiting on Eskiz, per call.
    timeout_seconds: float = Field(10.0, gt=0, le=60)
    #: Refresh the token this long before it expires (tokens live 30 days).
    refresh_before_seconds: int = Field(3 * 24 * 3600, ge=0)
    #: A test account may only send Eskiz's fixed test texts: send those instead of ours.
    test_mode: bool = False
    #: The store's public base URL (``https://shop.uz``); Eskiz posts delivery reports to
    #: ``<public_url>/eskiz/callback?token=<callback_token>``. Without it no callback is asked.
    public_url: str | None = None
    #: Secret in the callback URL (long and random); required for callbacks to be accepted.
    callback_token: SecretStr | None = None
    #: Which events send an SMS to the customer.
    notify_order_placed: bool = True
    notify_payment_captured: bool = False
    notify_shipment_status: bool = False
    #: SMS-pumping caps on sign-in code SMS (on top of the kernel's per-phone/per-IP limits).
    otp_max_per_minute: int = Field(60, gt=0)
    otp_max_per_phone_per_day: int = Field(10, gt=0)

    def callback_url(self) -> str | None:
        if not self.public_url or self.callback_token is None:
            return None
        token = quote(self.callback_token.get_secret_value(), safe="")
        return f"{self.public_url.rstrip('/')}/eskiz/callback?token={token}"

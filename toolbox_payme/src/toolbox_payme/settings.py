"""Settings of the Payme plugin: ``TOOLBOX_PAYME__<FIELD>`` or ``[payme]`` in ``toolbox.toml``."""

from __future__ import annotations

import json
from ipaddress import ip_network
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

PRODUCTION_CHECKOUT_URL = "https://checkout.paycom.uz"
SANDBOX_CHECKOUT_URL = "https://test.paycom.uz"
#: Payme's source addresses (185.234.113.1 – .15), per its docs.
PAYME_NETWORKS = ["185.234.113.0/28"]


class PaymeSettings(BaseModel):
    """Payme cash desk ("web kassa") values from the merchant cabinet."""

    #: The kassa (merchant) id, the ``m`` of the checkout link.
    merchant_id: str = Field(min_length=1, max_length=64)
    #: The production KEY (password of Basic auth ``Paycom:<key>``). Replaced by ChangePassword.
    key: SecretStr = Field(min_length=1, max_length=200)
    #: The sandbox TEST_KEY; accepted only while ``test_mode`` is on.
    test_key: SecretStr | None = Field(None, min_length=1, max_length=200)
    #: Sandbox: accept only ``test_key`` and send payers to test.paycom.uz.
    test_mode: bool = True
    #: Basic-auth login Payme sends.
    login: str = Field("Paycom", min_length=1, max_length=64)
    #: The ``account`` field configured in the kassa; its value is the order number.
    account_field: str = Field("order_id", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    #: Checkout host; default: test.paycom.uz in test mode, checkout.paycom.uz otherwise.
    checkout_url: str | None = Field(None, pattern=r"^https?://[^\s;]+$", max_length=200)
    #: Where Payme sends the Merchant API calls.
    callback_path: str = Field("/payme/callback", pattern=r"^/[A-Za-z0-9/_.-]{1,100}$")
    #: A performed (paid) transaction may be cancelled by Payme (a refund started in the cabinet):
    #: ``always``; ``until_delivered`` (-31007 once the order is delivered); ``never`` (-31007).
    cancel_performed: Literal["always", "until_delivered", "never"] = "until_delivered"
    #: Only these source networks may call the endpoint; empty = any (e.g. behind a proxy).
    allowed_networks: list[str] = Field(default_factory=list, max_length=50)
    #: How long an order waits for Payme's CreateTransaction before the kernel cancels it.
    payment_timeout_seconds: int | None = Field(None, gt=0, le=7 * 24 * 3600)
    #: Largest request body accepted on the callback.
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=1024 * 1024)

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _networks_from_text(cls, value: object) -> object:
        """The environment gives text: ``185.234.113.0/28,10.0.0.0/8`` or a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ip_network(network, strict=False)
        return value

    @property
    def checkout_host(self) -> str:
        if self.checkout_url:
            return self.checkout_url.rstrip("/")
        return SANDBOX_CHECKOUT_URL if self.test_mode else PRODUCTION_CHECKOUT_URL

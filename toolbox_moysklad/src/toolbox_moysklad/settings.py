"""Settings of the MoySklad plugin (``[moysklad]`` in ``toolbox.toml``, ``TOOLBOX_MOYSKLAD__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

#: Where a MoySklad row's SKU (our ``sku``) comes from.
SkuField = Literal["code", "article", "externalCode", "id"]
#: Which MoySklad figure is our stocked quantity.
Figure = Literal["stock", "freeStock", "quantity"]


class MoySkladSettings(BaseModel):
    """MoySklad JSON API 1.2: credentials, schedule, mapping and safety limits."""

    #: A user access token (``Authorization: Bearer``). Or give ``login`` and ``password``: a
    #: token is then obtained once (``POST /security/token``) and kept in the key store.
    token: SecretStr | None = None
    login: str | None = Field(None, max_length=200)
    password: SecretStr | None = None
    base_url: str = Field("https://api.moysklad.ru/api/remap/1.2", max_length=300)
    timeout_seconds: float = Field(30.0, gt=0, le=300)

    #: The scheduled sync (job ``moysklad.sync``); ``TOOLBOX_JOBS__INTERVALS`` may override it.
    sync_interval_minutes: int = Field(15, ge=1, le=24 * 60)
    #: A full run (``/report/stock/all``) at least this often; incremental runs in between.
    full_sync_hours: int = Field(24, ge=1, le=24)
    #: Incremental runs ask for changes since the last run's start minus this overlap.
    overlap_minutes: int = Field(5, ge=0, le=120)

    #: Our SKU is MoySklad's ``code`` (default), ``article``, ``externalCode``, or its ``id``.
    sku_field: SkuField = "code"
    #: Our stocked quantity: ``stock`` (physical), ``freeStock`` (stock − reserve) or ``quantity``.
    figure: Figure = "stock"
    #: Our SKUs absent from a full run: ``keep`` their level (default) or ``zero`` it.
    missing: Literal["keep", "zero"] = "keep"
    #: A run that would zero more than this share of the catalog stops before writing (and
    #: alerts); runs zeroing fewer than ``zero_guard_min_skus`` levels are never stopped.
    max_zero_share: float = Field(0.2, ge=0, le=1)
    zero_guard_min_skus: int = Field(5, ge=1, le=1_000_000)

    #: Rate budget per credential: ``rate_budget`` units per ``rate_window_seconds``; a request
    #: costs ``request_weight`` (user token/login: 4 since 2026-12-01), stock reports ``heavy_weight``.
    rate_budget: int = Field(45, ge=1, le=1000)
    rate_window_seconds: float = Field(3.0, gt=0, le=60)
    request_weight: int = Field(4, ge=1, le=100)
    heavy_weight: int = Field(5, ge=1, le=100)
    #: Requests in flight per credential across every process (MoySklad allows 5).
    max_in_flight: int = Field(4, ge=1, le=5)
    page_size: int = Field(1000, ge=1, le=1000)

    #: The store's public base URL (``https://shop.example.uz``), for ``webhooks install``.
    public_url: str | None = Field(None, max_length=200)
    #: The secret in the webhook URL (``/moysklad/webhook?token=...``); required for webhooks.
    webhook_token: SecretStr | None = None

    @model_validator(mode="after")
    def _credentials(self) -> MoySkladSettings:
        if self.token is None and not (self.login and self.password):
            raise ValueError("set token, or login and password")
        return self

    @property
    def credential_id(self) -> str:
        """A stable, non-secret name of the credential (rate limits and tokens are per credential)."""
        import hashlib

        basis = self.login or (self.token.get_secret_value() if self.token else "")
        return hashlib.sha256(f"{self.base_url}|{basis}".encode()).hexdigest()[:16]

"""Settings of the BTS plugin (``[bts]`` in ``toolbox.toml`` or ``TOOLBOX_BTS__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

#: BTS's published test server (spec §3.1); production hosts come with the contract.
TEST_BASE_URL = "https://apitest.bts.uz:28345"

_CODE = r"^[0-9]{1,10}$"


class TariffStep(BaseModel):
    """Up to ``up_to_grams``, the price is ``price`` tiyin."""

    up_to_grams: int = Field(gt=0, le=1_000_000)
    price: int = Field(ge=0)


class TariffZone(BaseModel):
    """A group of destination regions priced alike; ``door_surcharge`` is added for courier delivery."""

    regions: list[str] = Field(min_length=1)
    steps: list[TariffStep] = Field(min_length=1)
    #: Per started kilogram above the last step.
    extra_kg_price: int = Field(ge=0)
    door_surcharge: int = Field(0, ge=0)

    @field_validator("steps")
    @classmethod
    def _ascending(cls, steps: list[TariffStep]) -> list[TariffStep]:
        bounds = [s.up_to_grams for s in steps]
        if bounds != sorted(set(bounds)):
            raise ValueError("tariff steps must have strictly ascending up_to_grams")
        return steps


def _steps(*prices_som: int) -> list[TariffStep]:
    bounds = (1000, 2000, 3000, 5000, 10000, 20000, 30000)
    return [TariffStep(up_to_grams=b, price=p * 100) for b, p in zip(bounds, prices_som, strict=True)]


#: An EXAMPLE tariff (so'm, 2026 levels: 2 kg between regions ≈ 76 000 branch-to-branch);
#: set your contract's figures. Zones follow the 2020 card's destination groups (spec §3.3).
DEFAULT_TARIFF: dict[str, TariffZone] = {
    "tashkent": TariffZone(regions=["01", "10"], steps=_steps(25000, 30000, 35000, 45000, 60000, 90000, 120000),
                           extra_kg_price=400000, door_surcharge=1500000),
    "center": TariffZone(regions=["20", "25", "30"], steps=_steps(50000, 60000, 68000, 80000, 110000, 160000, 210000),
                         extra_kg_price=600000, door_surcharge=3000000),
    "valley": TariffZone(regions=["40", "50", "60"], steps=_steps(55000, 65000, 72000, 85000, 115000, 170000, 220000),
                         extra_kg_price=600000, door_surcharge=3000000),
    "south": TariffZone(regions=["70", "80", "85"], steps=_steps(60000, 76000, 84000, 95000, 125000, 180000, 235000),
                        extra_kg_price=700000, door_surcharge=3000000),
    "far": TariffZone(regions=["75", "90", "95"], steps=_steps(70000, 85000, 95000, 110000, 145000, 210000, 270000),
                      extra_kg_price=800000, door_surcharge=3500000),
}


class BtsSettings(BaseModel):
    """BTS Express: API access, the sender (the store), delivery options, pricing and tracking."""

    #: ``None`` → the BTS test server while ``test_mode`` is on; required in production.
    base_url: str | None = Field(None, max_length=300, pattern=r"^https?://")
    test_mode: bool = True
    login: str = Field(min_length=1, max_length=200)
    password: SecretStr
    #: Sent as the ``language`` header for calls that are not per-locale.
    language: Literal["uz", "ru"] = "uz"
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    # --- the sender (the store)
    sender_name: str = Field("Store", max_length=200)
    sender_phone: str = Field("+998900000000", max_length=20)
    sender_address: str = Field("", max_length=300)
    sender_city_code: str = Field("1000", pattern=_CODE)
    sender_branch_code: str | None = Field(None, pattern=_CODE)
    #: ``self``: the store brings parcels to a BTS branch; ``courier``: BTS collects them.
    pickup_type: Literal["self", "courier"] = "self"

    # --- options offered at checkout
    branch_to_branch: bool = True
    branch_to_door: bool = True
    name_branch_to_branch: dict[str, str] = {"ru": "BTS: самовывоз из пункта выдачи",
                                             "uz": "BTS: filialdan olib ketish"}
    name_branch_to_door: dict[str, str] = {"ru": "BTS: курьер до двери", "uz": "BTS: eshikkacha kuryer"}

    # --- pricing
    #: Used for each unit whose variant has no weight (reported by ``toolbox doctor``).
    default_weight_grams: int = Field(1000, gt=0, le=100_000)
    #: Carts are priced at the upper bound of their bracket (and the calculator cached per bracket).
    weight_brackets_grams: list[int] = [500, 1000, 2000, 3000, 5000, 10000, 15000, 20000, 30000]
    calculator_enabled: bool = True
    calculator_cache_seconds: int = Field(6 * 3600, gt=0, le=7 * 86400)
    #: After a failed calculator call, use the tariff table for this long without asking again.
    calculator_backoff_seconds: int = Field(60, ge=0, le=3600)
    tariff: dict[str, TariffZone] = Field(default_factory=lambda: dict(DEFAULT_TARIFF))

    # --- shipments
    cash_on_delivery: bool = True
    package_id: int = Field(7, ge=1)
    post_type_id: int = Field(1, ge=1)
    webhook_secret: SecretStr | None = None
    poll_interval_seconds: int = Field(1800, ge=60)
    directory_sync_interval_seconds: int = Field(86400, ge=3600)

    @field_validator("weight_brackets_grams")
    @classmethod
    def _brackets(cls, value: list[int]) -> list[int]:
        if not value or value != sorted(set(value)) or value[0] <= 0:
            raise ValueError("weight brackets must be positive and strictly ascending")
        return value

    @model_validator(mode="after")
    def _base_url_in_production(self) -> BtsSettings:
        if not self.test_mode and not self.base_url:
            raise ValueError("base_url is required when test_mode is false (BTS gives it with the contract)")
        return self

    @property
    def api_url(self) -> str:
        return (self.base_url or TEST_BASE_URL).rstrip("/")

    def zone_of(self, region_code: str) -> TariffZone | None:
        return next((zone for zone in self.tariff.values() if region_code in zone.regions), None)

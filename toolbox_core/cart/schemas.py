"""Request bodies of the cart API (responses are plain dicts built by the service)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(_Body):
    region: str = Field(min_length=1, max_length=100)
    city: str = Field(min_length=1, max_length=100)
    district: str | None = Field(None, max_length=100)
    street: str | None = Field(None, max_length=300)
    landmark: str | None = Field(None, max_length=300)
    postal_code: str | None = Field(None, max_length=12)
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=32)
    #: Optional carrier-neutral region/city codes (e.g. BTS ``"60"`` / ``"6000"``).
    region_code: str | None = Field(None, min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")
    city_code: str | None = Field(None, min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")


class CartCreate(_Body):
    locale: str | None = Field(None, max_length=10)
    phone: str | None = Field(None, max_length=32)


class CartUpdate(_Body):
    locale: str | None = Field(None, max_length=10)
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    address: AddressIn | None = None


class LineAdd(_Body):
    variant_id: str = Field(min_length=1, max_length=40)
    quantity: StrictInt = Field(1, ge=1)


class LineQuantity(_Body):
    quantity: StrictInt = Field(ge=1)


class ShippingChoice(_Body):
    provider_id: str = Field(min_length=1, max_length=64)
    option_id: str = Field(min_length=1, max_length=64)
    #: Provider data for the choice (e.g. ``{"branch_code": "6001"}``), validated by the provider.
    data: dict[str, str | int] | None = Field(None, max_length=10)

    @field_validator("data")
    @classmethod
    def _bounded(cls, value: dict[str, str | int] | None) -> dict[str, str | int] | None:
        for key, item in (value or {}).items():
            if len(key) > 64 or (isinstance(item, str) and len(item) > 200):
                raise ValueError("shipping data keys are at most 64 and values 200 characters")
        return value


class PaymentChoice(_Body):
    provider_id: str = Field(min_length=1, max_length=64)

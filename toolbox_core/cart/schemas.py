"""Request bodies of the cart API (responses are plain dicts built by the service)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from toolbox_core.customers.schemas import Address


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CartCreate(_Body):
    locale: str | None = Field(None, max_length=10)
    phone: str | None = Field(None, max_length=32)


class CartUpdate(_Body):
    locale: str | None = Field(None, max_length=10)
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    address: Address | None = None


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

"""Request and response bodies of the customers API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from toolbox_core.customers.phone import InvalidPhone, normalize_phone

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Locale = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=2, max_length=10)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OtpRequestBody(StrictBody):
    phone: Annotated[str, StringConstraints(max_length=40)]
    locale: Locale | None = None


class OtpVerifyBody(StrictBody):
    phone: Annotated[str, StringConstraints(max_length=40)]
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class OtpSentOut(BaseModel):
    sent: bool = True
    expires_in: int
    resend_in: int


class VerifiedOut(BaseModel):
    verified: bool = True
    verification_token: str
    expires_in: int


class SignInBody(StrictBody):
    """The one sign-in call: a verified phone signs in, or registers when it is new.

    ``name`` and ``locale`` are kept for a new customer (a name also fills an empty one);
    ``cart_id`` links the shopper's guest cart (only with the cart's cookie or
    ``X-Cart-Token``); ``sign_out_others`` revokes every other session of the customer.
    """

    verification_token: Token
    name: Text200 | None = None
    locale: Locale | None = None
    cart_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    sign_out_others: bool = False


#: ``POST /store/customers/auto-register`` is the same call as sign-in (kept for old storefronts).
AutoRegisterBody = SignInBody


class CustomerOut(BaseModel):
    id: str
    phone: str
    name: str | None
    email: str | None
    locale: str
    created_at: datetime

    @classmethod
    def of(cls, customer: Any) -> CustomerOut:
        return cls(
            id=customer.id, phone=customer.phone, name=customer.name, email=customer.email,
            locale=customer.locale, created_at=customer.created_at,
        )


class SessionOut(BaseModel):
    #: The bearer token; ``None`` when the session travels in the cookie only (refresh by cookie).
    token: str | None
    expires_at: datetime
    customer: CustomerOut
    created: bool = False
    cart_linked: bool | None = None


class ProfilePatch(StrictBody):
    name: Text200 | None = None
    locale: Locale | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None

    @field_validator("locale")
    @classmethod
    def _locale_not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("locale cannot be null")
        return value


def _normalized_phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except InvalidPhone as exc:
        raise ValueError(exc.message) from None


#: A phone in any accepted format, stored as +998XXXXXXXXX.
Phone = Annotated[str, StringConstraints(max_length=40), AfterValidator(_normalized_phone)]


class AddressIn(StrictBody):
    """An Uzbek address: region (viloyat), city, district (tuman), street and a landmark (mo'ljal)."""

    region: Text100
    city: Text100
    district: Text100 | None = None
    street: Text300
    landmark: Text300 | None = None
    recipient_name: Text200 | None = None
    phone: Phone | None = None


class AddressPatch(StrictBody):
    region: Text100 | None = None
    city: Text100 | None = None
    district: Text100 | None = None
    street: Text300 | None = None
    landmark: Text300 | None = None
    recipient_name: Text200 | None = None
    phone: Phone | None = None

    @field_validator("region", "city", "street")
    @classmethod
    def _required_not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("cannot be null")
        return value


class AddressOut(BaseModel):
    id: str
    region: str
    city: str
    district: str | None
    street: str
    landmark: str | None
    recipient_name: str | None
    phone: str | None

    @classmethod
    def of(cls, a: Any) -> AddressOut:
        return cls(
            id=a.id, region=a.region, city=a.city, district=a.district, street=a.street,
            landmark=a.landmark, recipient_name=a.recipient_name, phone=a.phone,
        )


class AddressList(BaseModel):
    addresses: list[AddressOut]


class CustomerList(BaseModel):
    customers: list[CustomerOut] = Field(default_factory=list)

"""Request and response bodies of the customers API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from toolbox_core.customers.phone import InvalidPhone, normalize_phone
from toolbox_core.schemas import UtcDateTime

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
    code: Annotated[str, StringConstraints(max_length=6, pattern=r"^[0-9]{6}$")]


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
    created_at: UtcDateTime

    @classmethod
    def of(cls, customer: Any) -> CustomerOut:
        return cls(
            id=customer.id, phone=customer.phone, name=customer.name, email=customer.email,
            locale=customer.locale, created_at=customer.created_at,
        )


class SessionOut(BaseModel):
    #: The bearer token; ``None`` when the session travels in the cookie only (refresh by cookie).
    token: str | None
    expires_at: UtcDateTime
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


Code20 = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")]


class Address(StrictBody):
    """The one public address shape: a cart's delivery address and a saved customer address.

    An Uzbek address: region (viloyat), city, district (tuman), street, a landmark (mo'ljal);
    ``street`` is optional (a pickup-branch delivery needs none). ``region_code`` /
    ``city_code`` are optional carrier-neutral codes (e.g. BTS ``"60"`` / ``"6000"``). ``id`` is
    read-only: set on a saved address, absent on a cart's, ignored on input — so a saved address
    can be sent back as the cart's address and a cart's address saved as it is.

    Deprecated (accepted on input until the next minor version, never answered): ``name`` —
    use ``recipient_name``.
    """

    id: str | None = Field(None, json_schema_extra={"readOnly": True}, exclude_if=lambda v: v is None)
    region: Text100
    city: Text100
    district: Text100 | None = None
    street: Text300 | None = None
    landmark: Text300 | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12)] | None = None
    recipient_name: Text200 | None = None
    phone: Phone | None = None
    region_code: Code20 | None = None
    city_code: Code20 | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        """Drop the read-only ``id``; take the deprecated ``name`` as ``recipient_name``."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if k != "id"}
        if "name" in data:
            if "recipient_name" in data:
                raise ValueError("send recipient_name only (name is its deprecated spelling)")
            data["recipient_name"] = data.pop("name")
        return data

    @classmethod
    def of(cls, a: Any) -> Address:
        """A saved :class:`~toolbox_core.customers.models.CustomerAddress` in the public shape."""
        address = cls.model_validate({f: getattr(a, f) for f in STORED_FIELDS})
        address.id = a.id
        return address


#: The fields of :class:`Address` that are stored (all but the read-only ``id``).
STORED_FIELDS = ("region", "city", "district", "street", "landmark", "postal_code", "recipient_name", "phone",
                 "region_code", "city_code")
#: Kept for the customers API's imports: the input and the output are the one ``Address``.
AddressIn = AddressOut = Address


def public_address(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored address dict (a cart's or an order's, maybe with the old ``name``) in the public shape."""
    if not stored:
        return None
    legacy = dict(stored)
    old_name = legacy.pop("name", None)
    if legacy.get("recipient_name") is None:
        legacy["recipient_name"] = old_name
    return {field: legacy.get(field) for field in STORED_FIELDS}


class AddressPatch(StrictBody):
    region: Text100 | None = None
    city: Text100 | None = None
    district: Text100 | None = None
    street: Text300 | None = None
    landmark: Text300 | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12)] | None = None
    recipient_name: Text200 | None = None
    phone: Phone | None = None
    region_code: Code20 | None = None
    city_code: Code20 | None = None

    @field_validator("region", "city")
    @classmethod
    def _required_not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("cannot be null")
        return value


class AddressList(BaseModel):
    addresses: list[Address]


class CustomerList(BaseModel):
    customers: list[CustomerOut] = Field(default_factory=list)

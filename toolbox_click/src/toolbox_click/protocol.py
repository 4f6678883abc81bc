"""Click SHOP API wire format: the error table, the request fields and the reply shape.

Click POSTs form fields (``application/x-www-form-urlencoded``) and wants a flat JSON reply
``{click_trans_id, merchant_trans_id, merchant_prepare_id | merchant_confirm_id, error,
error_note}`` with an integer ``error`` (see ``/work/shared/specs/payments.md`` §2.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any
from urllib.parse import parse_qsl

#: Largest body accepted; Click's callbacks are a few hundred bytes.
MAX_BODY_BYTES = 4096
#: Largest bigint Click ids may take (PostgreSQL BIGINT).
MAX_BIGINT = 2**63 - 1


class ClickCode(IntEnum):
    """The codes the merchant answers, with Click's own ``error_note`` texts."""

    SUCCESS = 0
    SIGN_CHECK_FAILED = -1
    INCORRECT_AMOUNT = -2
    ACTION_NOT_FOUND = -3
    ALREADY_PAID = -4
    USER_DOES_NOT_EXIST = -5
    TRANSACTION_DOES_NOT_EXIST = -6
    FAILED_TO_UPDATE_USER = -7
    BAD_REQUEST = -8
    TRANSACTION_CANCELLED = -9

    @property
    def note(self) -> str:
        return NOTES[self]


NOTES = {
    ClickCode.SUCCESS: "Success",
    ClickCode.SIGN_CHECK_FAILED: "SIGN CHECK FAILED!",
    ClickCode.INCORRECT_AMOUNT: "Incorrect parameter amount",
    ClickCode.ACTION_NOT_FOUND: "Action not found",
    ClickCode.ALREADY_PAID: "Already paid",
    ClickCode.USER_DOES_NOT_EXIST: "User does not exist",
    ClickCode.TRANSACTION_DOES_NOT_EXIST: "Transaction does not exist",
    ClickCode.FAILED_TO_UPDATE_USER: "Failed to update user",
    ClickCode.BAD_REQUEST: "Error in request from click",
    ClickCode.TRANSACTION_CANCELLED: "Transaction cancelled",
}

PREPARE, COMPLETE = 0, 1
_REQUIRED = ("click_trans_id", "service_id", "click_paydoc_id", "merchant_trans_id", "amount", "action",
             "error", "sign_time", "sign_string")
#: Click's ids: positive, ASCII digits only (``\d`` alone also takes "１２３" and "١٢٣").
_DIGITS = re.compile(r"^[1-9][0-9]{0,18}$")
_INTEGER = re.compile(r"^-?[0-9]{1,10}$")
_AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,10})?$")
_FIELD_LIMITS = {"merchant_trans_id": 64, "sign_time": 32, "sign_string": 64, "error_note": 500}


class ClickError(Exception):
    """Stop handling and answer Click with ``code`` (and the ids known so far)."""

    def __init__(self, code: ClickCode, note: str | None = None) -> None:
        super().__init__(note or code.note)
        self.code = code
        self.note = note or code.note


@dataclass(frozen=True)
class ClickRequest:
    """A parsed Prepare or Complete; ``raw`` keeps the strings exactly as received (for the sign)."""

    raw: dict[str, str]
    click_trans_id: int
    service_id: int
    click_paydoc_id: int
    merchant_trans_id: str
    amount: str
    action: int
    error: int
    error_note: str
    sign_time: str
    merchant_prepare_id: int | None


def parse_form(body: bytes) -> dict[str, str]:
    """The form fields of a callback body (the last value wins); -8 when it is not a small form."""
    if len(body) > MAX_BODY_BYTES:
        raise ClickError(ClickCode.BAD_REQUEST, "request too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=40)
    except (UnicodeDecodeError, ValueError):
        raise ClickError(ClickCode.BAD_REQUEST, "the body must be form fields") from None
    if any("\x00" in name or "\x00" in value for name, value in pairs):
        # No field Click sends holds a NUL, and PostgreSQL text cannot: malformed, on every database.
        raise ClickError(ClickCode.BAD_REQUEST, "a field holds a NUL character")
    return dict(pairs)


def ids_of(raw: dict[str, str]) -> dict[str, Any]:
    """``click_trans_id`` and ``merchant_trans_id`` echoed in a reply, as far as they are readable."""
    trans = raw.get("click_trans_id", "")
    merchant = raw.get("merchant_trans_id")
    return {"click_trans_id": int(trans) if _DIGITS.match(trans) and int(trans) <= MAX_BIGINT else None,
            "merchant_trans_id": merchant[:64] if isinstance(merchant, str) else None}


def parse_request(raw: dict[str, str]) -> ClickRequest:
    """Validate the fields' presence, shape and bounds; -8 (``BAD_REQUEST``) otherwise.

    ``action`` must be an integer here; whether it is 0 or 1 is checked after the signature (-3).
    """
    missing = [name for name in _REQUIRED if name not in raw]
    action = raw.get("action", "")
    if action == "1" and "merchant_prepare_id" not in raw:
        missing.append("merchant_prepare_id")
    if missing:
        raise ClickError(ClickCode.BAD_REQUEST, f"missing: {', '.join(missing)}")
    for name, limit in _FIELD_LIMITS.items():
        if len(raw.get(name, "")) > limit:
            raise ClickError(ClickCode.BAD_REQUEST, f"{name} is too long")
    for name in ("click_trans_id", "service_id", "click_paydoc_id"):
        if not _DIGITS.match(raw[name]) or int(raw[name]) > MAX_BIGINT:
            raise ClickError(ClickCode.BAD_REQUEST, f"{name} must be a positive integer")
    if not raw["merchant_trans_id"].strip():
        raise ClickError(ClickCode.BAD_REQUEST, "merchant_trans_id is empty")
    if not _INTEGER.match(action) or not _INTEGER.match(raw["error"]):
        raise ClickError(ClickCode.BAD_REQUEST, "action and error must be integers")
    if not _AMOUNT.match(raw["amount"]):
        raise ClickError(ClickCode.BAD_REQUEST, "amount must be a decimal number of so'm")
    prepare_id = raw.get("merchant_prepare_id")
    if action == "1" and (prepare_id is None or not _DIGITS.match(prepare_id) or int(prepare_id) > MAX_BIGINT):
        raise ClickError(ClickCode.BAD_REQUEST, "merchant_prepare_id must be a positive integer")
    return ClickRequest(
        raw=raw, click_trans_id=int(raw["click_trans_id"]), service_id=int(raw["service_id"]),
        click_paydoc_id=int(raw["click_paydoc_id"]), merchant_trans_id=raw["merchant_trans_id"],
        amount=raw["amount"], action=int(action), error=int(raw["error"]),
        error_note=raw.get("error_note", ""), sign_time=raw["sign_time"],
        merchant_prepare_id=int(prepare_id) if action == "1" and prepare_id is not None else None,
    )


def amount_to_tiyin(amount: str) -> int:
    """Click's so'm amount (``"1000"``, ``"1000.0"``, ``"1000.00"``) as integer tiyin, exactly.

    An amount that is not a whole number of tiyin (``"10.005"``) is -2: it cannot equal any order.
    """
    try:
        tiyin = Decimal(amount) * 100
    except InvalidOperation:
        raise ClickError(ClickCode.BAD_REQUEST, "amount must be a decimal number of so'm") from None
    if tiyin != tiyin.to_integral_value():
        raise ClickError(ClickCode.INCORRECT_AMOUNT)
    return int(tiyin)


def tiyin_to_som(tiyin: int) -> str:
    """Integer tiyin as Click's ``N.NN`` so'm (``150000`` → ``"1500.00"``); no float involved."""
    whole, fraction = divmod(tiyin, 100)
    return f"{whole}.{fraction:02d}"


def reply(raw: dict[str, str], code: ClickCode, *, note: str | None = None, id_field: str | None = None,
          merchant_id: int | None = None) -> dict[str, Any]:
    """The flat JSON reply: the echoed ids, our id (``merchant_prepare_id``/``merchant_confirm_id``),
    ``error`` and ``error_note``."""
    body = ids_of(raw)
    if id_field:
        body[id_field] = merchant_id
    body["error"] = int(code)
    body["error_note"] = note or code.note
    return body

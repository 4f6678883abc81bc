"""Phone numbers: the customer's identity, always ``+998XXXXXXXXX``.

Every phone the system sees goes through :func:`normalize_phone`. Uzbek mobile numbers are
``+998`` followed by a two-digit operator code and seven digits.
"""

from __future__ import annotations

import re

from toolbox_core.errors import InvalidInput

#: Operator codes of Uzbek mobile networks (Beeline, Ucell, Uzmobile, Mobiuz, Humans, Perfectum).
MOBILE_CODES = frozenset({"20", "33", "50", "55", "77", "88", "90", "91", "93", "94", "95", "97", "98", "99"})

_SEPARATORS = re.compile(r"[\s\-().]")


class InvalidPhone(InvalidInput):
    code = "invalid_phone"


def normalize_phone(raw: str) -> str:
    """Return ``raw`` as ``+998XXXXXXXXX`` or raise :class:`InvalidPhone`.

    Accepts ``+998 90 123-45-67``, ``998901234567``, ``90 123 45 67``, ``8 90 1234567`` (old
    trunk prefix) and ``00998...``.
    """
    if not isinstance(raw, str):
        raise InvalidPhone("phone must be a string")
    if len(raw) > 40:
        raise InvalidPhone("phone is too long", details={"phone": raw[:40]})
    digits = _SEPARATORS.sub("", raw.strip())
    international = digits.startswith(("+", "00"))
    digits = digits[1:] if digits.startswith("+") else digits[2:] if digits.startswith("00") else digits
    # ASCII only: str.isdigit() also accepts other scripts' digits and superscripts.
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidPhone(f"{raw!r} is not a phone number", details={"phone": raw})
    if international and not digits.startswith("998"):
        raise InvalidPhone(f"{raw!r} is not an Uzbek phone number (+998XXXXXXXXX)", details={"phone": raw})
    if len(digits) == 9:
        digits = "998" + digits
    elif len(digits) == 10 and digits.startswith("8"):
        digits = "998" + digits[1:]
    if len(digits) != 12 or not digits.startswith("998"):
        raise InvalidPhone(f"{raw!r} is not an Uzbek phone number (+998XXXXXXXXX)", details={"phone": raw})
    if digits[3:5] not in MOBILE_CODES:
        raise InvalidPhone(f"{raw!r} is not an Uzbek mobile number", details={"phone": raw})
    return "+" + digits


def phone_email(phone: str) -> str:
    """The one derived e-mail for systems that insist on one: ``998901234567@phone.toolbox.local``."""
    return f"{normalize_phone(phone)[1:]}@phone.toolbox.local"

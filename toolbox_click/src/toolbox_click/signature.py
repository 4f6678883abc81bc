"""The MD5 ``sign_string`` of Click's SHOP API callbacks, over the raw strings received.

Prepare: ``md5(click_trans_id + service_id + SECRET + merchant_trans_id + amount + action + sign_time)``;
Complete adds ``merchant_prepare_id`` after ``merchant_trans_id``. ``+`` is string
concatenation; the values are hashed exactly as Click sent them (``amount`` is never
re-formatted), and the digest is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

COMPLETE_ACTION = "1"


def sign_string(fields: Mapping[str, str], secret: str) -> str:
    """The lowercase hex MD5 Click computes for these fields (Complete when ``action`` is ``"1"``)."""
    prepare_id = fields.get("merchant_prepare_id", "") if fields.get("action") == COMPLETE_ACTION else ""
    text = "".join((fields.get("click_trans_id", ""), fields.get("service_id", ""), secret,
                    fields.get("merchant_trans_id", ""), prepare_id, fields.get("amount", ""),
                    fields.get("action", ""), fields.get("sign_time", "")))
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def signature_valid(fields: Mapping[str, str], secret: str) -> bool:
    """True when ``fields["sign_string"]`` is Click's signature of ``fields`` with ``secret``."""
    given = fields.get("sign_string", "")
    expected = sign_string(fields, secret)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace"))

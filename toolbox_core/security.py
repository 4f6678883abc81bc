"""Tokens and hashes for secrets we store (API keys, session tokens, one-time codes)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(prefix: str, nbytes: int = 32) -> str:
    """A random bearer token such as ``tbx_sess_...`` (URL-safe)."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy token: what we store instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(secret: str, value: str) -> str:
    """HMAC-SHA-256 of a low-entropy value (a 6-digit code) under the server secret."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None

"""Admin authentication: ``Authorization: Bearer tbx_admin_...`` keys with scopes.

Scopes are ``<area>:<read|write>`` (``catalog:write``, ``orders:read``, ``customers:read``,
``plugins:read``, ...); ``*`` grants everything and ``<area>:write`` implies ``<area>:read``.
Every admin route depends on :func:`require_admin`: anonymous → 401, wrong scope → 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from toolbox_core.admin.models import AdminApiKey
from toolbox_core.errors import Forbidden, Unauthorized
from toolbox_core.ids import new_id
from toolbox_core.security import bearer_token, new_token, token_hash

KEY_PREFIX = "tbx_admin"


@dataclass(frozen=True)
class AdminPrincipal:
    key_id: str
    name: str
    scopes: tuple[str, ...]

    def allows(self, scope: str) -> bool:
        return scope_allows(self.scopes, scope)


def scope_allows(granted: Iterable[str], needed: str) -> bool:
    granted = set(granted)
    if "*" in granted or needed in granted:
        return True
    area, _, action = needed.partition(":")
    return action == "read" and f"{area}:write" in granted


def create_key(toolbox: object, name: str, scopes: list[str]) -> tuple[AdminApiKey, str]:
    """Create a key; returns the row and the plain key, which is shown once and never stored."""
    plain = new_token(KEY_PREFIX)
    key = AdminApiKey(id=new_id("akey"), name=name, prefix=plain[:16], key_hash=token_hash(plain), scopes=scopes)
    with toolbox.db.transaction() as session:  # type: ignore[attr-defined]
        session.add(key)
    return key, plain


def authenticate(toolbox: object, token: str) -> AdminPrincipal | None:
    with toolbox.db.session() as session:  # type: ignore[attr-defined]
        key = session.scalar(select(AdminApiKey).where(AdminApiKey.key_hash == token_hash(token)))
    if key is None or key.revoked_at is not None:
        return None
    return AdminPrincipal(key.id, key.name, tuple(key.scopes or ()))


def require_admin(scope: str) -> Callable[[Request], AdminPrincipal]:
    """Dependency factory: ``Depends(require_admin("catalog:write"))``."""

    def dependency(request: Request) -> AdminPrincipal:
        token = bearer_token(request.headers.get("authorization"))
        principal = authenticate(request.app.state.toolbox, token) if token else None
        if principal is None:
            raise Unauthorized("an admin API key is required (Authorization: Bearer tbx_admin_...)")
        if not principal.allows(scope):
            raise Forbidden(f"this API key lacks the {scope!r} scope", details={"needed": scope})
        request.state.admin = principal
        return principal

    return dependency

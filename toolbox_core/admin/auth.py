"""Admin authentication: ``Authorization: Bearer tbx_admin_...`` keys with scopes.

Scopes are ``<area>:<read|write>`` (``catalog:write``, ``orders:read``, ``customers:read``,
``plugins:read``, ...); ``*`` grants everything and ``<area>:write`` implies ``<area>:read``.
Every admin route depends on :func:`require_admin`: anonymous → 401, wrong scope → 403. A key
is refused with its own reason when it was revoked (``key_revoked``) or has expired
(``key_expired``); a key's ``last_used_at`` is kept (written at most once a minute).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import or_, select, update

from toolbox_core.admin.models import AdminApiKey
from toolbox_core.db.base import utcnow
from toolbox_core.errors import Forbidden, InvalidInput, Unauthorized
from toolbox_core.ids import new_id
from toolbox_core.security import bearer_token, new_token, token_hash

KEY_PREFIX = "tbx_admin"
ACTIONS = ("read", "write")
#: Areas of the kernel's admin API (and those the integrations share: payments, shipping, ...).
KERNEL_AREAS = frozenset({
    "catalog", "customers", "events", "inventory", "jobs", "notifications", "orders", "payments",
    "plugins", "settings", "shipping",
})
#: Areas named by a ``require_admin`` call in this process (plugin routes add theirs).
_route_areas: set[str] = set()
#: ``last_used_at`` is written at most this often per key.
LAST_USED_EVERY = timedelta(minutes=1)


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


def known_areas(toolbox: object) -> set[str]:
    """Areas a scope may name: the kernel's, those of admin routes seen, and plugin names."""
    plugins = getattr(getattr(toolbox, "plugins", None), "plugins", {}) or {}
    return set(KERNEL_AREAS) | _route_areas | {name for name in plugins if "." not in name}


def check_scopes(toolbox: object, scopes: Iterable[str]) -> list[str]:
    """``scopes`` if each is ``*`` or ``<known area>:<read|write>``; 422 ``unknown_scope`` otherwise."""
    scopes = list(scopes)
    areas = known_areas(toolbox)
    unknown = [s for s in scopes if s != "*" and not (
        s.partition(":")[2] in ACTIONS and s.partition(":")[0] in areas)]
    if unknown or not scopes:
        raise InvalidInput(
            f"unknown scope(s): {', '.join(unknown)}; use * or <area>:read|write with an area among "
            f"{', '.join(sorted(areas))}" if unknown else "give at least one scope",
            code="unknown_scope", details={"unknown": unknown, "areas": sorted(areas)},
        )
    return scopes


def create_key(toolbox: object, name: str, scopes: list[str], *,
               expires_at: datetime | None = None) -> tuple[AdminApiKey, str]:
    """Create a key; returns the row and the plain key, which is shown once and never stored.

    Unknown scopes are refused (a typo would make a key that silently can do nothing);
    ``expires_at`` (optional, aware) ends the key's validity.
    """
    scopes = check_scopes(toolbox, scopes)
    if expires_at is not None and _aware(expires_at) <= datetime.now(UTC):
        raise InvalidInput("expires_at is in the past", code="invalid_expiry")
    plain = new_token(KEY_PREFIX)
    key = AdminApiKey(id=new_id("akey"), name=name, prefix=plain[:16], key_hash=token_hash(plain), scopes=scopes,
                      expires_at=expires_at)
    with toolbox.db.transaction() as session:  # type: ignore[attr-defined]
        session.add(key)
    return key, plain


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_key(toolbox: object, token: str) -> AdminPrincipal:
    """The principal of a valid key; 401 saying whether it is unknown, revoked or expired."""
    with toolbox.db.session() as session:  # type: ignore[attr-defined]
        key = session.scalar(select(AdminApiKey).where(AdminApiKey.key_hash == token_hash(token)))
    if key is None:
        raise Unauthorized("an admin API key is required (Authorization: Bearer tbx_admin_...)")
    if key.revoked_at is not None:
        raise Unauthorized("this admin API key was revoked; create a new one", code="key_revoked")
    now = datetime.now(UTC)
    if key.expires_at is not None and _aware(key.expires_at) <= now:
        raise Unauthorized("this admin API key has expired; create a new one", code="key_expired")
    if key.last_used_at is None or _aware(key.last_used_at) <= now - LAST_USED_EVERY:
        with toolbox.db.transaction() as session:  # type: ignore[attr-defined]
            session.execute(
                update(AdminApiKey)
                .where(AdminApiKey.id == key.id,
                       or_(AdminApiKey.last_used_at.is_(None), AdminApiKey.last_used_at <= now - LAST_USED_EVERY))
                .values(last_used_at=utcnow())
            )
    return AdminPrincipal(key.id, key.name, tuple(key.scopes or ()))


def authenticate(toolbox: object, token: str) -> AdminPrincipal | None:
    """The principal of a valid (known, not revoked, not expired) key, or ``None``."""
    try:
        return _check_key(toolbox, token)
    except Unauthorized:
        return None


def require_admin(scope: str) -> Callable[[Request], AdminPrincipal]:
    """Dependency factory: ``Depends(require_admin("catalog:write"))``."""
    _route_areas.add(scope.partition(":")[0])

    def dependency(request: Request) -> AdminPrincipal:
        token = bearer_token(request.headers.get("authorization"))
        if not token:
            raise Unauthorized("an admin API key is required (Authorization: Bearer tbx_admin_...)")
        principal = _check_key(request.app.state.toolbox, token)
        if not principal.allows(scope):
            raise Forbidden(f"this API key lacks the {scope!r} scope", details={"needed": scope})
        request.state.admin = principal
        return principal

    return dependency

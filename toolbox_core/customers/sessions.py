"""Who is signed in: FastAPI dependencies that resolve a customer from a session token.

The token comes as ``Authorization: Bearer <token>`` or in the session cookie
(``TOOLBOX_AUTH__SESSION_COOKIE_NAME``). Sign-in, refresh and sign-out create and revoke
:class:`CustomerSession` rows (see ``toolbox_core.customers``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import select

from toolbox_core.customers.models import CustomerSession
from toolbox_core.errors import Unauthorized
from toolbox_core.security import bearer_token, token_hash
from toolbox_core.threads import run_db_work


def session_token(request: Request) -> str | None:
    """The session token sent with ``request`` (bearer header first, then cookie)."""
    toolbox = request.app.state.toolbox
    return bearer_token(request.headers.get("authorization")) or request.cookies.get(
        toolbox.settings.auth.session_cookie_name
    )


def customer_id_for_token(toolbox: object, token: str) -> str | None:
    """The customer of a live (not expired, not revoked) session token, or ``None``."""
    with toolbox.db.session() as session:  # type: ignore[attr-defined]
        row = session.execute(
            select(CustomerSession.customer_id, CustomerSession.expires_at, CustomerSession.revoked_at).where(
                CustomerSession.token_hash == token_hash(token)
            )
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return row.customer_id if expires > datetime.now(UTC) else None


async def optional_customer(request: Request) -> str | None:
    """Dependency: the signed-in customer's id, or ``None`` for a guest.

    A token that is present but invalid or expired is treated as a guest, so a stale cookie
    never locks a shopper out of the store. ``async`` so a guest costs no trip through the
    thread pool (FastAPI runs a plain ``def`` dependency there on every request); the token
    lookup, one short read, is :func:`~toolbox_core.threads.run_db_work`.
    """
    token = session_token(request)
    if not token:
        return None
    toolbox = request.app.state.toolbox
    return await run_db_work(toolbox, customer_id_for_token, toolbox, token)


async def require_customer(request: Request) -> str:
    """Dependency: the signed-in customer's id; 401 ``not_signed_in`` otherwise."""
    customer_id = await optional_customer(request)
    if customer_id is None:
        raise Unauthorized("sign in with a phone number first", code="not_signed_in")
    return customer_id

"""Who holds a cart: its creator proves it with the cart token, not with the cart id alone.

A cart id travels in URLs, logs and referrers, so knowing it proves nothing. The cart token is
an HMAC of the cart id under the server secret (nothing stored, nothing in memory): it is set
with the cart cookie as a second httpOnly cookie (``<cart cookie name>_token``) and returned
once as ``cart_token`` when the cart is made, for apps that send it as ``X-Cart-Token``.

* A signed-in customer adopts a guest cart only when the request carries its token.
* Answers to a request without it carry no personal data (phone, e-mail, address are null),
  and a completed cart's 409 does not name its order.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from toolbox_core.customers.sessions import optional_customer
from toolbox_core.i18n import AcceptLanguage, LocaleQ, reads_locale_params, request_locale_context
from toolbox_core.security import keyed_hash

#: Header an app without cookies sends the cart token in.
CART_TOKEN_HEADER = "x-cart-token"
#: Cart fields only the cart's holder sees.
PERSONAL_FIELDS = ("phone", "email", "address")


def cart_token(toolbox: Any, cart_id: str) -> str:
    """The cart's token: ``tbx_cart_`` + HMAC-SHA-256 of its id under ``auth.secret_key``."""
    secret = toolbox.settings.auth.secret_key.get_secret_value()
    return "tbx_cart_" + keyed_hash(secret, f"cart:{cart_id}")[:40]


def token_cookie_name(toolbox: Any) -> str:
    return f"{toolbox.settings.cart.cookie_name}_token"


def holds_cart(toolbox: Any, request: Request, cart_id: str) -> bool:
    """Whether ``request`` carries ``cart_id``'s token (header first, then cookie)."""
    presented = request.headers.get(CART_TOKEN_HEADER) or request.cookies.get(token_cookie_name(toolbox))
    if not presented or len(presented) > 100:
        return False
    return hmac.compare_digest(presented, cart_token(toolbox, cart_id))


def cart_owner(toolbox: Any, cart_id: str) -> str | None:
    """The customer a cart belongs to (``None``: a guest cart, or no such cart)."""
    from sqlalchemy import select

    from toolbox_core.cart.models import Cart

    with toolbox.db.statements() as conn:  # one column, no lines: one statement
        return conn.scalar(select(Cart.customer_id).where(Cart.id == cart_id))


@dataclass(frozen=True)
class CartCaller:
    """Who acts on a cart: the customer id the cart service gets, and whether they hold it."""

    customer_id: str | None
    holder: bool


def resolve_caller(toolbox: Any, request: Request, cart_id: str, customer_id: str | None) -> CartCaller:
    """The caller of a cart request.

    With the token: the signed-in customer (who may adopt the guest cart). Without it: the
    cart's owner is still its holder; anyone else acts as a guest (so a guest cart is never
    adopted), and the cart service refuses another customer's cart.
    """
    if holds_cart(toolbox, request, cart_id):
        return CartCaller(customer_id, True)
    if customer_id is None:
        return CartCaller(None, False)
    owner = cart_owner(toolbox, cart_id)
    if owner == customer_id:
        return CartCaller(customer_id, True)
    return CartCaller(customer_id if owner is not None else None, False)


@reads_locale_params
async def cart_caller(request: Request, cart_id: str, locale: LocaleQ = None,
                      accept_language: AcceptLanguage = None) -> CartCaller:
    """Dependency for ``/store/carts/{cart_id}/...`` routes: the request's locale (as
    :func:`~toolbox_core.i18n.request_locale_context`), then who calls (:func:`resolve_caller`,
    the signed-in customer as :func:`~toolbox_core.customers.sessions.optional_customer`
    finds them). One dependency where a route would solve three; so a test that overrides
    ``optional_customer`` (``app.dependency_overrides``) overrides ``cart_caller`` for the
    cart-scoped routes."""
    from toolbox_core.threads import run_db_work

    await request_locale_context(request)
    customer_id = await optional_customer(request)
    toolbox = request.app.state.toolbox
    if customer_id is None:  # a guest: no database read
        return CartCaller(None, holds_cart(toolbox, request, cart_id))
    return await run_db_work(toolbox, resolve_caller, toolbox, request, cart_id, customer_id)


def redact(cart: dict[str, Any]) -> dict[str, Any]:
    """``cart`` without its personal data, for a caller who does not hold it."""
    return {**cart, **dict.fromkeys(PERSONAL_FIELDS)}


def redact_error(exc: Any) -> None:
    """Drop what a cart error reveals about the cart's order (for a caller who does not hold it)."""
    details = getattr(exc, "details", None)
    if isinstance(details, dict):
        details.pop("order_id", None)

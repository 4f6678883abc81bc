"""Store API for carts: ``/store/carts``.

The cart id travels in an httpOnly, SameSite cookie (``TOOLBOX_CART__COOKIE_*``) and in the
path, so browser storefronts, server-side storefronts and mobile apps all work. A cart that was
completed or expired answers 409 ``cart_completed`` / 410 ``cart_expired`` to any change and
clears the cookie; ``GET /store/carts/current`` then starts a fresh cart in one call. ``GET`` on
a completed cart answers its holder 200 ``{"id", "status": "completed", "order": {id, number,
status}}`` (:func:`completed_cart_body`), so a client that lost the complete response finds its
order. Completing a cart keeps its cookie, so the fresh cart ``/current`` starts keeps the
completed one's locale. Who holds a cart (may adopt it, sees its personal data and its order)
is decided by its cart token: see :mod:`toolbox_core.cart.access`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from toolbox_core.cart.access import (
    CartCaller,
    cart_caller,
    cart_token,
    redact,
    redact_error,
    resolve_caller,
    token_cookie_name,
)
from toolbox_core.cart.schemas import (
    CartCreate,
    CartUpdate,
    LineAdd,
    LineQuantity,
    PaymentChoice,
    ShippingChoice,
)
from toolbox_core.cart.service import CartCompleted, CartService, CartUnavailable
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.customers.sessions import optional_customer
from toolbox_core.i18n import RequestLocale, request_locale_context
from toolbox_core.providers import is_local
from toolbox_core.threads import db_work, db_work_when, in_thread


def cookie_header(toolbox: Any, name: str, value: str, max_age: int | None = None) -> str:
    """A cart cookie's ``Set-Cookie`` value (httpOnly, the ``cart.cookie_*`` settings), as
    ``Response.set_cookie`` writes it; built directly, without a ``SimpleCookie`` per response
    (cart ids and tokens are letters, digits and ``_``: nothing to quote)."""
    cfg = toolbox.settings.cart
    secure = "; Secure" if cfg.cookie_secure else ""
    age = cfg.cookie_max_age_seconds if max_age is None else max_age
    return f"{name}={value}; HttpOnly; Max-Age={age}; Path=/; SameSite={cfg.cookie_samesite}{secure}"


def set_cart_cookie(toolbox: Any, response: Response, cart_id: str) -> None:
    response.headers.append("set-cookie", cookie_header(toolbox, toolbox.settings.cart.cookie_name, cart_id))


def set_cart_token_cookie(toolbox: Any, response: Response, cart_id: str) -> str:
    """Give the cart's holder its token (httpOnly cookie); returns the token."""
    token = cart_token(toolbox, cart_id)
    response.headers.append("set-cookie", cookie_header(toolbox, token_cookie_name(toolbox), token))
    return token


def clear_cookie_header(toolbox: Any) -> str:
    return cookie_header(toolbox, toolbox.settings.cart.cookie_name, '""', max_age=0)


@contextmanager
def clearing_cookie_when_gone(toolbox: Any, caller: CartCaller | None = None) -> Iterator[None]:
    """Turn a completed/expired cart into its clear error plus a cookie deletion.

    A ``caller`` who does not hold the cart is not told the completed cart's order.
    """
    try:
        yield
    except CartUnavailable as exc:
        exc.headers["set-cookie"] = clear_cookie_header(toolbox)
        if caller is not None and not caller.holder:
            redact_error(exc)
        raise


def choice_is_local(toolbox: Any, choice: ShippingChoice) -> bool:
    """Whether pricing ``choice`` asks its provider nothing outside the process (``providers.is_local``)."""
    provider = toolbox.shipping_providers.get(choice.provider_id)
    return is_local(provider, "validate_option" if choice.data else "quote")


def build_router(toolbox: Any) -> APIRouter:
    router = APIRouter(prefix="/store/carts", tags=["store: cart"])  # cart_caller: the locale too
    carts = CartService(toolbox)
    checkout = CheckoutService(toolbox)

    def respond(response: Response, cart: dict[str, Any], caller: CartCaller | None = None,
                *, new: bool = False) -> dict[str, Any]:
        """The cart for its holder (cookie and token cookie set; ``cart_token`` when ``new``);
        for anyone else without personal data, and their cookies are left alone."""
        if caller is not None and not caller.holder and not new:
            return redact(cart)
        set_cart_cookie(toolbox, response, cart["id"])
        token = set_cart_token_cookie(toolbox, response, cart["id"])
        return {**cart, "cart_token": token} if new else cart

    @router.post("", status_code=201, summary="Start a cart (sets the cart cookie)")
    @db_work(toolbox)
    def create_cart(response: Response, body: CartCreate | None = None,
                    customer: str | None = Depends(optional_customer),
                    loc: RequestLocale = Depends(request_locale_context)) -> dict[str, Any]:
        body = body or CartCreate()
        return respond(response, carts.create(customer, loc.choose(body.locale), body.phone), new=True)

    @router.get("/current", summary="The cart in the cookie, or a fresh one when it is gone")
    @db_work(toolbox)
    def current_cart(request: Request, response: Response, customer: str | None = Depends(optional_customer),
                     loc: RequestLocale = Depends(request_locale_context)) -> dict[str, Any]:
        cart_id = request.cookies.get(toolbox.settings.cart.cookie_name)
        caller = resolve_caller(toolbox, request, cart_id, customer) if cart_id else CartCaller(customer, True)
        cart = carts.current(cart_id, caller.customer_id, loc.explicit, fallback=loc.negotiated)
        return respond(response, cart, caller, new=cart["id"] != cart_id)

    @router.get("/{cart_id}", summary="A cart with server-computed totals")
    @db_work(toolbox)
    def get_cart(cart_id: str, response: Response, caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        try:
            with clearing_cookie_when_gone(toolbox, caller):
                return respond(response, carts.get(cart_id, caller.customer_id), caller)
        except CartCompleted:
            if not caller.holder:  # only its holder learns where the order is
                raise
            return completed_cart_body(cart_id, checkout.completed_order(cart_id, caller.customer_id))

    @router.patch("/{cart_id}", summary="Set locale, phone, e-mail, delivery address")
    @db_work_when(toolbox, lambda values: "locale" not in values["body"].model_fields_set)  # a locale: re-quote
    def update_cart(cart_id: str, body: CartUpdate, response: Response,
                    caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox, caller):
            return respond(response, carts.update(cart_id, caller.customer_id, body.model_dump(exclude_unset=True)), caller)

    @router.post("/{cart_id}/lines", summary="Add a variant (adds to the quantity already there)")
    @db_work(toolbox)
    def add_line(cart_id: str, body: LineAdd, response: Response,
                 caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox, caller):
            return respond(response, carts.add_line(cart_id, caller.customer_id, body.variant_id, body.quantity), caller)

    @router.put("/{cart_id}/lines/{variant_id}", summary="Set the quantity of a variant in the cart")
    @db_work(toolbox)
    def set_line(cart_id: str, variant_id: str, body: LineQuantity, response: Response,
                 caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox, caller):
            return respond(response, carts.set_quantity(cart_id, caller.customer_id, variant_id, body.quantity), caller)

    @router.delete("/{cart_id}/lines/{variant_id}", summary="Remove a variant from the cart")
    @db_work(toolbox)
    def remove_line(cart_id: str, variant_id: str, response: Response,
                    caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox, caller):
            return respond(response, carts.remove_line(cart_id, caller.customer_id, variant_id), caller)

    @router.get("/{cart_id}/shipping-options", summary="Shipping options priced by the providers")
    @in_thread
    def shipping_options(cart_id: str, caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox, caller):
            return {"items": carts.shipping_options(cart_id, caller.customer_id)}

    @router.get("/{cart_id}/payment-options", summary="Payment methods: id, name in the cart's locale, online")
    @db_work(toolbox)
    def payment_options(cart_id: str, caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox, caller):
            return {"items": carts.payment_options(cart_id, caller.customer_id)}

    @router.post("/{cart_id}/shipping", summary="Choose a shipping option (priced on the server)")
    @db_work_when(toolbox, lambda values: choice_is_local(toolbox, values["body"]))
    def select_shipping(cart_id: str, body: ShippingChoice, response: Response,
                        caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox, caller):
            return respond(response, carts.select_shipping(cart_id, caller.customer_id, body.provider_id,
                                                           body.option_id, body.data), caller)

    @router.post("/{cart_id}/payment-session", summary="Choose a payment provider")
    @db_work(toolbox)
    def select_payment(cart_id: str, body: PaymentChoice, response: Response,
                       caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox, caller):
            return respond(response, carts.select_payment(cart_id, caller.customer_id, body.provider_id), caller)

    return router


def completed_cart_body(cart_id: str, order: dict[str, Any]) -> dict[str, Any]:
    """What ``GET`` says about a completed cart: where its order is (no personal data)."""
    return {"id": cart_id, "status": "completed", "order": order}

"""Store API for carts: ``/store/carts``.

The cart id travels in an httpOnly, SameSite cookie (``TOOLBOX_CART__COOKIE_*``) and in the
path, so browser storefronts, server-side storefronts and mobile apps all work. A cart that was
completed or expired answers 409 ``cart_completed`` / 410 ``cart_expired`` and clears the
cookie; ``GET /store/carts/current`` then starts a fresh cart in one call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from toolbox_core.cart.schemas import (
    CartCreate,
    CartUpdate,
    LineAdd,
    LineQuantity,
    PaymentChoice,
    ShippingChoice,
)
from toolbox_core.cart.service import CartService, CartUnavailable
from toolbox_core.customers.sessions import optional_customer
from toolbox_core.i18n import RequestLocale, request_locale_context


def set_cart_cookie(toolbox: Any, response: Response, cart_id: str) -> None:
    cfg = toolbox.settings.cart
    response.set_cookie(cfg.cookie_name, cart_id, max_age=cfg.cookie_max_age_seconds, httponly=True,
                        secure=cfg.cookie_secure, samesite=cfg.cookie_samesite, path="/")


def clear_cookie_header(toolbox: Any) -> str:
    cfg = toolbox.settings.cart
    secure = "; Secure" if cfg.cookie_secure else ""
    return f"{cfg.cookie_name}=\"\"; Max-Age=0; Path=/; HttpOnly; SameSite={cfg.cookie_samesite}{secure}"


@contextmanager
def clearing_cookie_when_gone(toolbox: Any) -> Iterator[None]:
    """Turn a completed/expired cart into its clear error plus a cookie deletion."""
    try:
        yield
    except CartUnavailable as exc:
        exc.headers["set-cookie"] = clear_cookie_header(toolbox)
        raise


def build_router(toolbox: Any) -> APIRouter:
    router = APIRouter(prefix="/store/carts", tags=["store: cart"], dependencies=[Depends(request_locale_context)])
    carts = CartService(toolbox)

    def respond(response: Response, cart: dict[str, Any]) -> dict[str, Any]:
        set_cart_cookie(toolbox, response, cart["id"])
        return cart

    @router.post("", status_code=201, summary="Start a cart (sets the cart cookie)")
    def create_cart(response: Response, body: CartCreate | None = None,
                    customer: str | None = Depends(optional_customer),
                    loc: RequestLocale = Depends(request_locale_context)) -> dict[str, Any]:
        body = body or CartCreate()
        return respond(response, carts.create(customer, loc.choose(body.locale), body.phone))

    @router.get("/current", summary="The cart in the cookie, or a fresh one when it is gone")
    def current_cart(request: Request, response: Response, customer: str | None = Depends(optional_customer),
                     loc: RequestLocale = Depends(request_locale_context)) -> dict[str, Any]:
        cart_id = request.cookies.get(toolbox.settings.cart.cookie_name)
        return respond(response, carts.current(cart_id, customer, loc.explicit, fallback=loc.negotiated))

    @router.get("/{cart_id}", summary="A cart with server-computed totals")
    def get_cart(cart_id: str, response: Response, customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            return respond(response, carts.get(cart_id, customer))

    @router.patch("/{cart_id}", summary="Set locale, phone, e-mail, delivery address")
    def update_cart(cart_id: str, body: CartUpdate, response: Response,
                    customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            return respond(response, carts.update(cart_id, customer, body.model_dump(exclude_unset=True)))

    @router.post("/{cart_id}/lines", summary="Add a variant (adds to the quantity already there)")
    def add_line(cart_id: str, body: LineAdd, response: Response,
                 customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            return respond(response, carts.add_line(cart_id, customer, body.variant_id, body.quantity))

    @router.put("/{cart_id}/lines/{variant_id}", summary="Set the quantity of a variant in the cart")
    def set_line(cart_id: str, variant_id: str, body: LineQuantity, response: Response,
                 customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            return respond(response, carts.set_quantity(cart_id, customer, variant_id, body.quantity))

    @router.delete("/{cart_id}/lines/{variant_id}", summary="Remove a variant from the cart")
    def remove_line(cart_id: str, variant_id: str, response: Response,
                    customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            return respond(response, carts.remove_line(cart_id, customer, variant_id))

    @router.get("/{cart_id}/shipping-options", summary="Shipping options priced by the providers")
    def shipping_options(cart_id: str, customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            return {"items": carts.shipping_options(cart_id, customer)}

    @router.post("/{cart_id}/shipping", summary="Choose a shipping option (priced on the server)")
    def select_shipping(cart_id: str, body: ShippingChoice, response: Response,
                        customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            return respond(response, carts.select_shipping(cart_id, customer, body.provider_id, body.option_id,
                                                                body.data))

    @router.post("/{cart_id}/payment-session", summary="Choose a payment provider")
    def select_payment(cart_id: str, body: PaymentChoice, response: Response,
                       customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            return respond(response, carts.select_payment(cart_id, customer, body.provider_id))

    return router

"""Store API: one-time codes, sign-in and sessions, the signed-in customer's profile and addresses."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from toolbox_core.cart.access import holds_cart
from toolbox_core.clientip import client_ip
from toolbox_core.customers import otp, service
from toolbox_core.customers.schemas import (
    AddressIn,
    AddressList,
    AddressOut,
    AddressPatch,
    CustomerOut,
    OtpRequestBody,
    OtpSentOut,
    OtpVerifyBody,
    ProfilePatch,
    SessionOut,
    SignInBody,
    VerifiedOut,
)
from toolbox_core.customers.sessions import require_customer, session_token
from toolbox_core.i18n import RequestLocale, request_locale_context
from toolbox_core.params import PathKey
from toolbox_core.security import bearer_token


def _toolbox(request: Request) -> Any:
    return request.app.state.toolbox


def _cookie_flags(request: Request) -> dict[str, Any]:
    """The session cookie's flags: setting and deleting it must use the same ones."""
    auth = _toolbox(request).settings.auth
    return {"httponly": True, "secure": bool(auth.session_cookie_secure),
            "samesite": auth.session_cookie_samesite, "path": "/"}


def _session_response(request: Request, response: Response, signed: service.SignedIn,
                      *, include_token: bool = True) -> SessionOut:
    auth = _toolbox(request).settings.auth
    response.set_cookie(auth.session_cookie_name, signed.token, max_age=auth.session_ttl_seconds,
                        **_cookie_flags(request))
    return SessionOut(
        token=signed.token if include_token else None,
        expires_at=signed.expires_at,
        customer=CustomerOut.of(signed.customer),
        created=signed.created,
        cart_linked=signed.cart_linked,
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/store", tags=["store: customers"])

    @router.post("/otp/request", response_model=OtpSentOut, summary="Send a one-time sign-in code by SMS")
    def request_otp(body: OtpRequestBody, request: Request,
                    loc: RequestLocale = Depends(request_locale_context)) -> OtpSentOut:
        toolbox = _toolbox(request)
        sent = otp.request_code(toolbox, body.phone, client_ip(request), loc.choose(body.locale))
        return OtpSentOut(expires_in=sent.expires_in, resend_in=sent.resend_in)

    @router.post("/otp/verify", response_model=VerifiedOut, summary="Check a code; returns a one-use verification token")
    def verify_otp(body: OtpVerifyBody, request: Request) -> VerifiedOut:
        verified = otp.verify_code(_toolbox(request), body.phone, body.code, client_ip(request))
        return VerifiedOut(verification_token=verified.verification_token, expires_in=verified.expires_in)

    def sign_in(body: SignInBody, request: Request, response: Response) -> SessionOut:
        toolbox = _toolbox(request)
        cart_id = body.cart_id if body.cart_id and holds_cart(toolbox, request, body.cart_id) else None
        signed = service.sign_in(toolbox, body.verification_token, name=body.name, locale=body.locale,
                                 cart_id=cart_id, sign_out_others=body.sign_out_others)
        if body.cart_id and cart_id is None:
            signed = replace(signed, cart_linked=False)
        return _session_response(request, response, signed)

    router.post(
        "/customers/sign-in", response_model=SessionOut,
        summary="Sign in or register with a verified phone; optionally name, cart link, sign out elsewhere",
    )(sign_in)
    router.post(
        "/customers/auto-register", response_model=SessionOut,
        summary="The same call as /customers/sign-in (kept for storefronts written against it)",
    )(sign_in)

    @router.post("/customers/refresh", response_model=SessionOut, summary="Rotate the session token")
    def refresh(
        request: Request, response: Response,
        include_token: bool = Query(False, description="Return the new token in the body even when the "
                                                       "session came in the cookie"),
    ) -> SessionOut:
        """A session sent as a bearer token gets its new token in the body; one sent in the cookie
        gets a new cookie only (a script on the page cannot read it), unless ``include_token``."""
        signed = service.refresh_session(_toolbox(request), session_token(request))
        by_bearer = bearer_token(request.headers.get("authorization")) is not None
        return _session_response(request, response, signed, include_token=by_bearer or include_token)

    @router.post("/customers/sign-out", status_code=204, summary="Revoke the session (or every session)")
    def sign_out(
        request: Request, response: Response,
        everywhere: bool = Query(False, description="Revoke every session of the customer (all devices)"),
    ) -> Response:
        toolbox = _toolbox(request)
        service.sign_out(toolbox, session_token(request), everywhere=everywhere)
        response = Response(status_code=204)
        response.delete_cookie(toolbox.settings.auth.session_cookie_name, **_cookie_flags(request))
        return response

    @router.get("/customers/me", response_model=CustomerOut, summary="The signed-in customer's profile")
    def me(request: Request, customer_id: str = Depends(require_customer)) -> CustomerOut:
        return CustomerOut.of(service.get_customer(_toolbox(request), customer_id))

    @router.patch("/customers/me", response_model=CustomerOut, summary="Change name, locale or e-mail")
    def update_me(body: ProfilePatch, request: Request, customer_id: str = Depends(require_customer)) -> CustomerOut:
        changes = body.model_dump(exclude_unset=True)
        return CustomerOut.of(service.update_profile(_toolbox(request), customer_id, changes))

    @router.get("/customers/me/addresses", response_model=AddressList, summary="Saved addresses")
    def addresses(request: Request, customer_id: str = Depends(require_customer)) -> AddressList:
        return AddressList(addresses=[AddressOut.of(a) for a in service.list_addresses(_toolbox(request), customer_id)])

    @router.post("/customers/me/addresses", response_model=AddressOut, status_code=201, summary="Save an address")
    def add_address(body: AddressIn, request: Request, customer_id: str = Depends(require_customer)) -> AddressOut:
        return AddressOut.of(service.add_address(_toolbox(request), customer_id, body.model_dump()))

    @router.patch("/customers/me/addresses/{address_id}", response_model=AddressOut, summary="Change an address")
    def update_address(
        address_id: PathKey, body: AddressPatch, request: Request, customer_id: str = Depends(require_customer)
    ) -> AddressOut:
        changes = body.model_dump(exclude_unset=True)
        return AddressOut.of(service.update_address(_toolbox(request), customer_id, address_id, changes))

    @router.delete("/customers/me/addresses/{address_id}", status_code=204, summary="Remove an address")
    def delete_address(address_id: PathKey, request: Request, customer_id: str = Depends(require_customer)) -> Response:
        service.delete_address(_toolbox(request), customer_id, address_id)
        return Response(status_code=204)

    return router

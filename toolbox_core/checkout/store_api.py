"""Store API: ``POST /store/carts/{cart_id}/complete`` turns a cart into an order."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from toolbox_core.cart.store_api import clear_cookie_header, clearing_cookie_when_gone
from toolbox_core.checkout.return_url import allowed_return_url
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.customers.sessions import optional_customer
from toolbox_core.i18n import request_locale_context


class CompleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Where a gateway sends the shopper back after paying.
    return_url: str | None = Field(None, max_length=2000, pattern=r"^https?://")


def build_router(toolbox: Any) -> APIRouter:
    router = APIRouter(prefix="/store/carts", tags=["store: checkout"], dependencies=[Depends(request_locale_context)])
    checkout = CheckoutService(toolbox)

    @router.post("/{cart_id}/complete", status_code=201, summary="Place the order (once per cart)")
    def complete(cart_id: str, response: Response, body: CompleteBody | None = None,
                 customer: str | None = Depends(optional_customer)) -> dict[str, Any]:
        with clearing_cookie_when_gone(toolbox):
            result = checkout.complete(cart_id, customer, return_url=allowed_return_url(toolbox.settings, body and body.return_url))
        response.headers["set-cookie"] = clear_cookie_header(toolbox)
        return {"order": asdict(result) | {"id": result.order_id}}

    return router

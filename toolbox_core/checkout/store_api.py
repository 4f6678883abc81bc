"""Store API: ``POST /store/carts/{cart_id}/complete`` turns a cart into an order.

Completing is idempotent: a retry (a phone that lost the response) answers 200 with the same
order body instead of an error; the first success answers 201.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from toolbox_core.cart.access import CartCaller, cart_caller
from toolbox_core.cart.service import CartCompleted
from toolbox_core.cart.store_api import clearing_cookie_when_gone
from toolbox_core.checkout.return_url import allowed_return_url
from toolbox_core.checkout.service import CheckoutResult, CheckoutService
from toolbox_core.providers import PaymentRequest
from toolbox_core.threads import run_db_work


class CompleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Where a gateway sends the shopper back after paying.
    return_url: str | None = Field(None, max_length=2000, pattern=r"^https?://")


def build_router(toolbox: Any) -> APIRouter:
    router = APIRouter(prefix="/store/carts", tags=["store: checkout"])  # cart_caller: the locale too
    checkout = CheckoutService(toolbox)

    @router.post("/{cart_id}/complete", status_code=201, summary="Place the order (once per cart)")
    async def complete(cart_id: str, response: Response, body: CompleteBody | None = None,
                       caller: CartCaller = Depends(cart_caller)) -> dict[str, Any]:
        return_url = allowed_return_url(toolbox.settings, body and body.return_url)

        def place() -> tuple[CheckoutResult, PaymentRequest | None]:
            try:
                with clearing_cookie_when_gone(toolbox, caller):
                    return checkout.place(cart_id, caller.customer_id, return_url=return_url)
            except CartCompleted:  # a retry by its holder: answer the order it already became
                if not caller.holder:
                    raise
                response.status_code = 200
                return checkout.completed(cart_id, caller.customer_id), None

        result, request = await run_db_work(toolbox, place)  # database work only
        if request is not None:  # placed now: start its payment (a gateway call, unless local)
            run = partial(run_db_work, toolbox) if checkout.initiates_locally(result) else run_in_threadpool
            result.action = await run(checkout.initiate, request, result)
        # The cart cookie stays: ``GET /store/carts/current`` replaces the completed cart with a
        # fresh one in the same locale (a change to the completed cart clears the cookie).
        return order_body(result)

    return router


def order_body(result: CheckoutResult) -> dict[str, Any]:
    """The body of a (first or retried) successful complete."""
    return {"order": asdict(result) | {"id": result.order_id}}

"""Public store API: products, product detail, category tree (published products only).

Every read carries a strong ``ETag`` (a hash of the body: it changes with any product, price,
stock or translation change that shows in it) and ``Cache-Control``; a request whose
``If-None-Match`` names the current ETag gets ``304 Not Modified`` with no body.

The product routes are ``async``: a page the process cached and checked less than
``store_fresh_seconds`` ago is served on the event loop (no thread, no statement); any other
read runs in the thread pool (:func:`~starlette.concurrency.run_in_threadpool`), as a sync
route would. A page past half its window is checked in the background after one response,
so pages in steady demand stay fresh and no request waits for their check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from toolbox_core.catalog import reads
from toolbox_core.catalog.cache import etag_of
from toolbox_core.errors import InvalidInput
from toolbox_core.i18n import request_locale
from toolbox_core.params import INT64_MAX, Limit, Offset, PathKey

__all__ = ["build_router", "cache_control", "etag_of"]


def _none_match(header: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 §13.1.2 says)."""
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def cache_control(request: Request) -> str:
    """Shared caches may keep a catalog read ``store_cache_seconds``; 0: revalidate each time."""
    seconds = request.app.state.toolbox.settings.store_cache_seconds
    return f"public, max-age={seconds}" if seconds else "public, no-cache"


def _cached(request: Request, text: str) -> Response:
    """The JSON ``text`` with its ETag, or a 304 when the client already has it."""
    body = text.encode()
    return _send(request, reads.Served(body, etag_of(body)))


def _send(request: Request, served: reads.Served, refresh: Callable[[], None] | None = None) -> Response:
    """``served`` (a JSON body and its ETag), or a 304 when the client already has it;
    ``refresh`` runs (in the thread pool) once the response is sent."""
    body, etag = served
    background = BackgroundTask(refresh) if refresh is not None else None
    # The locale comes from Accept-Language when ?locale= is absent: caches key on it.
    headers = {"ETag": etag, "Cache-Control": cache_control(request), "Vary": "Accept-Language"}
    if _none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers, background=background)
    return Response(body, media_type="application/json", headers=headers, background=background)


Locale = Annotated[str, Depends(request_locale)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/store", tags=["store: catalog"])

    @router.get("/products", summary="Published products: filters, sort, search, pagination with a total")
    async def list_products(
        request: Request,
        locale: Locale,
        limit: Limit = 20,
        offset: Offset = 0,
        category: Annotated[str | None, Query(max_length=200, description="Category handle or id; includes subcategories")] = None,
        collection: Annotated[str | None, Query(max_length=200)] = None,
        price_min: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="Tiyin")] = None,
        price_max: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="Tiyin")] = None,
        in_stock: bool | None = None,
        sort: reads.Sort | None = None,
        q: Annotated[str | None, Query(max_length=200, description="Full-text search (typo tolerant, RU/UZ); "
                                        "an exact SKU or barcode ranks first; empty or blank: no search")] = None,
    ) -> Response:
        if price_min is not None and price_max is not None and price_min > price_max:
            raise InvalidInput(
                "price_min must not be greater than price_max",
                code="invalid_price_range",
                details={"price_min": price_min, "price_max": price_max},
            )
        query = reads.ProductQuery(
            locale=locale, limit=limit, offset=offset,
            category=category, collection=collection, price_min=price_min, price_max=price_max,
            in_stock=in_stock, sort=sort, q=(q or "").strip() or None,
        )
        toolbox = request.app.state.toolbox
        fresh = reads.fresh_products(toolbox, query)
        if fresh is not None:
            return _send(request, *fresh)
        return _send(request, await run_in_threadpool(reads.serve_products, toolbox, query))

    @router.get("/products/{id_or_handle}", summary="One published product by id or handle")
    async def get_product(request: Request, id_or_handle: PathKey, locale: Locale) -> Response:
        toolbox = request.app.state.toolbox
        fresh = reads.fresh_product(toolbox, id_or_handle, locale)
        if fresh is not None:
            return _send(request, *fresh)
        return _send(request, await run_in_threadpool(reads.serve_product, toolbox, id_or_handle, locale))

    @router.get("/categories", summary="The category tree")
    def categories(request: Request, locale: Locale) -> Response:
        body = {"categories": reads.category_tree(request.app.state.toolbox, locale)}
        return _cached(request, json.dumps(body, ensure_ascii=False, separators=(",", ":")))

    return router

"""Public store API: products, product detail, category tree (published products only)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from toolbox_core.catalog import reads
from toolbox_core.errors import InvalidInput
from toolbox_core.i18n import request_locale
from toolbox_core.params import INT64_MAX, Limit, Offset


def _json(body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type="application/json")


def _raw(text: str) -> Response:
    return Response(text, media_type="application/json")


Locale = Annotated[str, Depends(request_locale)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/store", tags=["store: catalog"])

    @router.get("/products", summary="Published products: filters, sort, search, pagination with a total")
    def list_products(
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
        q: Annotated[str | None, Query(min_length=1, max_length=200, description="Full-text search (typo tolerant, RU/UZ)")] = None,
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
            in_stock=in_stock, sort=sort, q=q,
        )
        return _raw(reads.list_products(request.app.state.toolbox, query))

    @router.get("/products/{id_or_handle}", summary="One published product by id or handle")
    def get_product(request: Request, id_or_handle: str, locale: Locale) -> Response:
        return _raw(reads.get_product(request.app.state.toolbox, id_or_handle, locale))

    @router.get("/categories", summary="The category tree")
    def categories(request: Request, locale: Locale) -> Response:
        return _json({"categories": reads.category_tree(request.app.state.toolbox, locale)})

    return router

"""Admin API: find customers by phone (any format) or name."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from toolbox_core.admin.auth import require_admin
from toolbox_core.customers import service
from toolbox_core.customers.schemas import CustomerList, CustomerOut
from toolbox_core.params import Limit, Offset


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin: customers"])

    @router.get(
        "/customers",
        response_model=CustomerList,
        dependencies=[Depends(require_admin("customers:read"))],
        summary="Customers by phone (any format) or name; newest first",
    )
    def list_customers(
        request: Request,
        q: str = Query("", max_length=200),
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> CustomerList:
        found = service.search_customers(request.app.state.toolbox, q, limit, offset)
        return CustomerList(customers=[CustomerOut.of(c) for c in found])

    return router

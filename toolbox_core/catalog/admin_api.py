"""Admin catalog API (``catalog:read`` / ``catalog:write`` scopes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import func, select

from toolbox_core.admin.auth import require_admin
from toolbox_core.catalog import models as m
from toolbox_core.catalog import schemas as s
from toolbox_core.catalog.admin_views import (
    category_view,
    collection_view,
    product_view,
    product_views,
    variant_options,
    variant_view,
)
from toolbox_core.catalog.images import delete_image, read_limited, upload_image
from toolbox_core.catalog.service import Catalog
from toolbox_core.catalog.storage import get_storage
from toolbox_core.params import Limit, Offset, PathKey

READ = [Depends(require_admin("catalog:read"))]
WRITE = [Depends(require_admin("catalog:write"))]


def _tb(request: Request) -> Any:
    return request.app.state.toolbox


def _product(request: Request, ref: str) -> dict[str, Any]:
    toolbox = _tb(request)
    with toolbox.db.session() as session:
        return product_view(session, Catalog._product(session, ref), get_storage(toolbox))


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin: catalog"])

    # -------------------------------------------------------------- products
    @router.get("/products", dependencies=READ, summary="Products of any status")
    def list_products(
        request: Request,
        limit: Limit = 50,
        offset: Offset = 0,
        status: s.Status | None = None,
    ) -> dict[str, Any]:
        toolbox = _tb(request)
        with toolbox.db.session() as session:
            stmt = select(m.Product)
            count = select(func.count()).select_from(m.Product)
            if status:
                stmt, count = stmt.where(m.Product.status == status), count.where(m.Product.status == status)
            rows = session.scalars(stmt.order_by(m.Product.created_at.desc(), m.Product.id.desc()).limit(limit).offset(offset)).all()
            storage = get_storage(toolbox)
            return {"items": product_views(session, rows, storage), "total": session.scalar(count), "limit": limit, "offset": offset}

    @router.post("/products", dependencies=WRITE, status_code=201, summary="Create a product with its variants")
    def create_product(request: Request, body: s.ProductIn) -> dict[str, Any]:
        return _product(request, Catalog(_tb(request)).create_product(body))

    @router.get("/products/{ref}", dependencies=READ)
    def get_product(request: Request, ref: PathKey) -> dict[str, Any]:
        return _product(request, ref)

    @router.patch("/products/{ref}", dependencies=WRITE, summary="Change handle, status, texts, categories, collections")
    def update_product(request: Request, ref: PathKey, body: s.ProductPatch) -> dict[str, Any]:
        return _product(request, Catalog(_tb(request)).update_product(ref, body))

    @router.delete("/products/{ref}", dependencies=WRITE, status_code=204)
    def delete_product(request: Request, ref: PathKey) -> Response:
        Catalog(_tb(request)).delete_product(ref)
        return Response(status_code=204)

    @router.put("/products/{ref}/translations/{locale}", dependencies=WRITE, summary="Set a product's texts in one locale")
    def put_translation(request: Request, ref: PathKey, locale: PathKey, body: s.ProductText) -> dict[str, Any]:
        return _product(request, Catalog(_tb(request)).set_product_translation(ref, locale, body))

    @router.delete("/products/{ref}/translations/{locale}", dependencies=WRITE)
    def delete_translation(request: Request, ref: PathKey, locale: PathKey) -> dict[str, Any]:
        return _product(request, Catalog(_tb(request)).delete_product_translation(ref, locale))

    # -------------------------------------------------------------- variants, prices, fiscal codes
    @router.post("/products/{ref}/variants", dependencies=WRITE, status_code=201)
    def add_variant(request: Request, ref: PathKey, body: s.VariantIn) -> dict[str, Any]:
        return _variant(request, Catalog(_tb(request)).add_variant(ref, body))

    @router.get("/variants/{variant_id}", dependencies=READ)
    def get_variant(request: Request, variant_id: PathKey) -> dict[str, Any]:
        return _variant(request, variant_id)

    @router.patch("/variants/{variant_id}", dependencies=WRITE, summary="Price, SKU, fiscal codes (MXIK, package, VAT), texts")
    def update_variant(request: Request, variant_id: PathKey, body: s.VariantPatch) -> dict[str, Any]:
        return _variant(request, Catalog(_tb(request)).update_variant(variant_id, body))

    @router.put("/variants/{variant_id}/fiscal", dependencies=WRITE, summary="Set MXIK (IKPU) code, package code and VAT percent")
    def put_fiscal(request: Request, variant_id: PathKey, body: s.FiscalIn) -> dict[str, Any]:
        patch = s.VariantPatch(mxik_code=body.mxik_code, package_code=body.package_code, vat_percent=body.vat_percent)
        return _variant(request, Catalog(_tb(request)).update_variant(variant_id, patch))

    @router.delete("/variants/{variant_id}", dependencies=WRITE, status_code=204)
    def delete_variant(request: Request, variant_id: PathKey) -> Response:
        Catalog(_tb(request)).delete_variant(variant_id)
        return Response(status_code=204)

    def _variant(request: Request, variant_id: PathKey) -> dict[str, Any]:
        with _tb(request).db.session() as session:
            return variant_view(Catalog._variant(session, variant_id), variant_options(session, variant_id))

    # -------------------------------------------------------------- images
    @router.post("/products/{ref}/images", dependencies=WRITE, status_code=201, summary="Upload an image (JPEG, PNG, WebP, GIF)")
    def add_image(request: Request, ref: PathKey, file: Annotated[UploadFile, File()], alt: Annotated[str, Form(max_length=300)] = "") -> dict[str, Any]:
        toolbox = _tb(request)
        data = read_limited(file.file, toolbox.settings.storage.max_upload_bytes)
        return upload_image(toolbox, ref, data, alt)

    @router.delete("/images/{image_id}", dependencies=WRITE, status_code=204)
    def remove_image(request: Request, image_id: PathKey) -> Response:
        delete_image(_tb(request), image_id)
        return Response(status_code=204)

    # -------------------------------------------------------------- categories
    @router.get("/categories", dependencies=READ)
    def list_categories(request: Request) -> dict[str, Any]:
        with _tb(request).db.session() as session:
            cats = session.scalars(select(m.Category).order_by(m.Category.position, m.Category.handle)).all()
            return {"items": [category_view(c) for c in cats]}

    @router.post("/categories", dependencies=WRITE, status_code=201)
    def create_category(request: Request, body: s.CategoryIn) -> dict[str, Any]:
        return _category(request, Catalog(_tb(request)).create_category(body))

    @router.get("/categories/{ref}", dependencies=READ)
    def get_category(request: Request, ref: PathKey) -> dict[str, Any]:
        return _category(request, ref)

    @router.patch("/categories/{ref}", dependencies=WRITE, summary="Rename, move (cycles refused), reorder")
    def update_category(request: Request, ref: PathKey, body: s.CategoryPatch) -> dict[str, Any]:
        return _category(request, Catalog(_tb(request)).update_category(ref, body))

    @router.delete("/categories/{ref}", dependencies=WRITE, status_code=204)
    def delete_category(request: Request, ref: PathKey) -> Response:
        Catalog(_tb(request)).delete_category(ref)
        return Response(status_code=204)

    def _category(request: Request, ref: PathKey) -> dict[str, Any]:
        with _tb(request).db.session() as session:
            return category_view(Catalog._category(session, ref))

    # -------------------------------------------------------------- collections
    @router.get("/collections", dependencies=READ)
    def list_collections(request: Request) -> dict[str, Any]:
        with _tb(request).db.session() as session:
            return {"items": [collection_view(c) for c in session.scalars(select(m.Collection).order_by(m.Collection.handle))]}

    @router.post("/collections", dependencies=WRITE, status_code=201)
    def create_collection(request: Request, body: s.CollectionIn) -> dict[str, Any]:
        return _collection(request, Catalog(_tb(request)).create_collection(body))

    @router.get("/collections/{ref}", dependencies=READ)
    def get_collection(request: Request, ref: PathKey) -> dict[str, Any]:
        return _collection(request, ref)

    @router.patch("/collections/{ref}", dependencies=WRITE)
    def update_collection(request: Request, ref: PathKey, body: s.CollectionPatch) -> dict[str, Any]:
        return _collection(request, Catalog(_tb(request)).update_collection(ref, body))

    @router.delete("/collections/{ref}", dependencies=WRITE, status_code=204)
    def delete_collection(request: Request, ref: PathKey) -> Response:
        Catalog(_tb(request)).delete_collection(ref)
        return Response(status_code=204)

    def _collection(request: Request, ref: PathKey) -> dict[str, Any]:
        with _tb(request).db.session() as session:
            return collection_view(Catalog._collection(session, ref))

    return router

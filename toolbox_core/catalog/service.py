"""Catalog writes: products, variants, options, categories, collections, translations.

Each public function is one transaction: it validates, writes, rebuilds the store documents
of the products it touched and emits ``product.*`` events, or changes nothing at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from toolbox_core.catalog import models as m
from toolbox_core.catalog import schemas as s
from toolbox_core.catalog.documents import (
    PUBLISHED_COUNTER,
    add_to_counter,
    new_version_on_commit,
    product_ids_in_categories,
    product_ids_in_collections,
    refresh_documents,
)
from toolbox_core.errors import Conflict, InvalidInput, NotFound
from toolbox_core.events import emit
from toolbox_core.ids import new_id


class Catalog:
    """Catalog writes for one :class:`~toolbox_core.kernel.Toolbox`."""

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox
        self.locales: list[str] = list(toolbox.settings.locales)
        self.default_locale: str = toolbox.settings.default_locale

    # ------------------------------------------------------------------ helpers
    def check_locales(self, keys: Iterable[str], *, require_default: bool = False, what: str = "") -> None:
        keys = list(keys)
        unknown = [k for k in keys if k not in self.locales]
        if unknown:
            raise InvalidInput(
                f"unknown locale {unknown[0]!r}; supported: {', '.join(self.locales)}",
                code="unknown_locale",
                details={"supported": self.locales},
            )
        if require_default and self.default_locale not in keys:
            raise InvalidInput(
                f"{what} needs a text in the default locale {self.default_locale!r}",
                code="missing_default_locale",
            )

    def refresh(self, session: Session, product_ids: Iterable[str]) -> None:
        refresh_documents(session, product_ids, self.locales, self.default_locale)

    @staticmethod
    def _flush(session: Session) -> None:
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict(f"conflicting catalog data: {_short(exc)}", code="conflict") from None

    # ------------------------------------------------------------------ lookups
    @staticmethod
    def _product(session: Session, id_or_handle: str) -> m.Product:
        product = session.scalar(
            select(m.Product).where(or_(m.Product.id == id_or_handle, m.Product.handle == id_or_handle))
        )
        if product is None:
            raise NotFound(f"product {id_or_handle!r} not found")
        return product

    @staticmethod
    def _variant(session: Session, variant_id: str) -> m.ProductVariant:
        variant = session.get(m.ProductVariant, variant_id)
        if variant is None:
            raise NotFound(f"variant {variant_id!r} not found")
        return variant

    @staticmethod
    def _by_ref(session: Session, model: Any, what: str, ref: str, invalid: bool) -> Any:
        """A row of ``model`` by id or handle: 404, or 422 when it is referenced from input."""
        row = session.scalar(select(model).where(or_(model.id == ref, model.handle == ref)))
        if row is None:
            if invalid:
                raise InvalidInput(f"unknown {what} {ref!r}", code=f"unknown_{what}")
            raise NotFound(f"{what} {ref!r} not found")
        return row

    @classmethod
    def _category(cls, session: Session, ref: str, *, invalid: bool = False) -> m.Category:
        return cls._by_ref(session, m.Category, "category", ref, invalid)

    @classmethod
    def _collection(cls, session: Session, ref: str, *, invalid: bool = False) -> m.Collection:
        return cls._by_ref(session, m.Collection, "collection", ref, invalid)

    def _apply_handle_and_metadata(self, session: Session, model: Any, row: Any, patch: Any) -> None:
        if patch.handle is not None and patch.handle != row.handle:
            self._check_handle_free(session, model, patch.handle, row.id)
            row.handle = patch.handle
        if patch.metadata is not None:
            row.metadata_ = patch.metadata

    def _upsert_texts(self, rows: list[Any], texts: dict[str, dict[str, Any]], make: Any) -> None:
        """Set per-locale fields on translation ``rows``, adding ``make(locale=...)`` rows as needed."""
        self.check_locales(texts)
        current = {t.locale: t for t in rows}
        for loc, fields in texts.items():
            target = current.get(loc)
            if target is None:
                target = make(locale=loc)
                rows.append(target)
            for key, value in fields.items():
                setattr(target, key, value)

    @staticmethod
    def _check_handle_free(session: Session, model: Any, handle: str, own_id: str | None = None) -> None:
        existing = session.scalar(select(model.id).where(model.handle == handle))
        if existing is not None and existing != own_id:
            raise Conflict(f"handle {handle!r} is already used", code="duplicate_handle", details={"handle": handle})

    @staticmethod
    def _check_skus_free(session: Session, skus: list[str], own_ids: Iterable[str] = ()) -> None:
        dupes = {sku for sku in skus if skus.count(sku) > 1}
        if dupes:
            raise Conflict(f"SKU {sorted(dupes)[0]!r} is given twice", code="duplicate_sku", details={"skus": sorted(dupes)})
        own = set(own_ids)
        taken = session.execute(select(m.ProductVariant.sku, m.ProductVariant.id).where(m.ProductVariant.sku.in_(skus))).all()
        taken = [sku for sku, vid in taken if vid not in own]
        if taken:
            raise Conflict(f"SKU {taken[0]!r} is already used", code="duplicate_sku", details={"skus": taken})

    # ------------------------------------------------------------------ products
    def create_product(self, data: s.ProductIn, *, session: Session | None = None) -> str:
        """Create a product with its variants; returns its id."""
        if session is None:
            with self.toolbox.db.transaction() as tx:
                return self.create_product(data, session=tx)
        self.check_locales(data.translations, require_default=True, what="a product")
        self._check_handle_free(session, m.Product, data.handle)
        self._check_skus_free(session, [v.sku for v in data.variants])
        product = m.Product(id=new_id("prod"), handle=data.handle, status=data.status, metadata_=data.metadata)
        product.translations = [
            m.ProductTranslation(locale=loc, title=t.title, description=t.description) for loc, t in data.translations.items()
        ]
        session.add(product)
        self._flush(session)
        values = self._add_options(session, product.id, data.options)
        for position, variant in enumerate(data.variants):
            self._add_variant(session, product.id, variant, values, position)
        self._set_links(session, product.id, data.categories, data.collections)
        self._flush(session)
        self.refresh(session, [product.id])
        emit(session, "product.created", {"product_id": product.id, "handle": product.handle, "status": product.status})
        return product.id

    def upsert_product(self, data: s.ProductIn, *, session: Session) -> tuple[str, bool]:
        """Create the product with ``data.handle``, or update it in place; ``(id, created)``.

        An update sets status, texts, metadata and links from ``data``, adds options and option
        values it does not have yet (texts of known ones are updated), updates the variants whose
        SKU it already has and adds the others. Variants missing from ``data`` are left alone (a
        file with some variants deletes nothing); a SKU of another product is a conflict.
        """
        product = session.scalar(select(m.Product).where(m.Product.handle == data.handle))
        if product is None:
            return self.create_product(data, session=session), True
        self.check_locales(data.translations, require_default=True, what="a product")
        own = {v.sku: v for v in product.variants}
        self._check_skus_free(session, [v.sku for v in data.variants], [v.id for v in own.values()])
        product.status = data.status
        product.metadata_ = data.metadata
        self._upsert_product_texts(product, data.translations)
        self._merge_options(session, product.id, data.options)
        values = self._option_values(session, product.id)
        position = max((v.position for v in own.values()), default=-1) + 1
        for variant_in in data.variants:
            current = own.get(variant_in.sku)
            if current is None:
                self._add_variant(session, product.id, variant_in, values, position)
                position += 1
                continue
            self.check_locales(variant_in.translations)
            for key in ("barcode", "price", "compare_at_price", "weight_grams", "mxik_code", "package_code", "vat_percent"):
                setattr(current, key, getattr(variant_in, key))
            current.metadata_ = variant_in.metadata
            texts = {k: v.model_dump() for k, v in variant_in.translations.items()}
            self._upsert_texts(current.translations, texts, m.VariantTranslation)
            if variant_in.options:
                ids = self._value_ids(variant_in.options, values, current.sku)
                session.query(m.VariantOptionValue).filter_by(variant_id=current.id).delete()
                session.add_all(m.VariantOptionValue(variant_id=current.id, value_id=v) for v in ids)
        self._set_links(session, product.id, data.categories, data.collections)
        self._touch(session, product)
        return product.id, False

    def _merge_options(self, session: Session, product_id: str, options: list[s.OptionIn]) -> None:
        """Add the options and values a product lacks; update the names of those it has."""
        existing = {o.code: o for o in session.scalars(select(m.ProductOption).where(m.ProductOption.product_id == product_id))}
        new = [o for o in options if o.code not in existing]
        for opt in options:
            option = existing.get(opt.code)
            if option is None:
                continue
            self.check_locales(opt.translations, require_default=True, what=f"option {opt.code!r}")
            names = {t.locale: t for t in option.translations}
            for loc, name in opt.translations.items():
                if loc in names:
                    names[loc].name = name
                else:
                    option.translations.append(m.ProductOptionTranslation(locale=loc, name=name))
            known = {v.code: v for v in option.values}
            for val in opt.values:
                self.check_locales(val.translations, require_default=True, what=f"option value {val.code!r}")
                value = known.get(val.code)
                if value is None:
                    value = m.ProductOptionValue(id=new_id("optv"), code=val.code, position=len(option.values))
                    option.values.append(value)
                current = {t.locale: t for t in value.translations}
                for loc, text in val.translations.items():
                    if loc in current:
                        current[loc].value = text
                    else:
                        value.translations.append(m.OptionValueTranslation(locale=loc, value=text))
        if new:
            self._add_options(session, product_id, new, start=len(existing))
        self._flush(session)

    def _add_options(self, session: Session, product_id: str, options: list[s.OptionIn], *, start: int = 0) -> dict[tuple[str, str], str]:
        values: dict[tuple[str, str], str] = {}
        if len({o.code for o in options}) != len(options):
            raise InvalidInput("option codes must be unique within a product", code="duplicate_option")
        for position, opt in enumerate(options, start=start):
            self.check_locales(opt.translations, require_default=True, what=f"option {opt.code!r}")
            option = m.ProductOption(id=new_id("opt"), product_id=product_id, code=opt.code, position=position)
            option.translations = [m.ProductOptionTranslation(locale=k, name=v) for k, v in opt.translations.items()]
            if len({v.code for v in opt.values}) != len(opt.values):
                raise InvalidInput(f"option {opt.code!r} has a value code twice", code="duplicate_option_value")
            for vpos, val in enumerate(opt.values):
                self.check_locales(val.translations, require_default=True, what=f"option value {val.code!r}")
                value = m.ProductOptionValue(id=new_id("optv"), code=val.code, position=vpos)
                value.translations = [m.OptionValueTranslation(locale=k, value=v) for k, v in val.translations.items()]
                option.values.append(value)
                values[(opt.code, val.code)] = value.id
            session.add(option)
        return values

    def _option_values(self, session: Session, product_id: str) -> dict[tuple[str, str], str]:
        rows = session.execute(
            select(m.ProductOption.code, m.ProductOptionValue.code, m.ProductOptionValue.id)
            .join(m.ProductOptionValue, m.ProductOptionValue.option_id == m.ProductOption.id)
            .where(m.ProductOption.product_id == product_id)
        ).all()
        return {(o, v): vid for o, v, vid in rows}

    def _value_ids(self, chosen: dict[str, str], values: dict[tuple[str, str], str], sku: str) -> list[str]:
        ids = []
        for opt, val in chosen.items():
            if (opt, val) not in values:
                raise InvalidInput(f"variant {sku!r}: unknown option value {opt}={val}", code="unknown_option_value")
            ids.append(values[(opt, val)])
        return ids

    def _add_variant(self, session: Session, product_id: str, data: s.VariantIn, values: dict[tuple[str, str], str], position: int) -> m.ProductVariant:
        self.check_locales(data.translations)
        value_ids = self._value_ids(data.options, values, data.sku)
        variant = m.ProductVariant(
            id=new_id("var"), product_id=product_id, sku=data.sku, barcode=data.barcode, price=data.price,
            compare_at_price=data.compare_at_price, weight_grams=data.weight_grams, position=position,
            mxik_code=data.mxik_code, package_code=data.package_code, vat_percent=data.vat_percent,
            metadata_=data.metadata,
        )
        variant.translations = [m.VariantTranslation(locale=k, title=t.title) for k, t in data.translations.items()]
        session.add(variant)
        self._flush(session)
        for vid in value_ids:
            session.add(m.VariantOptionValue(variant_id=variant.id, value_id=vid))
        return variant

    def _set_links(self, session: Session, product_id: str, categories: list[str] | None, collections: list[str] | None) -> None:
        if categories is not None:
            ids = list(dict.fromkeys(self._category(session, ref, invalid=True).id for ref in categories))
            session.query(m.ProductCategory).filter_by(product_id=product_id).delete()
            session.add_all(m.ProductCategory(product_id=product_id, category_id=cid) for cid in ids)
        if collections is not None:
            ids = list(dict.fromkeys(self._collection(session, ref, invalid=True).id for ref in collections))
            session.query(m.ProductCollection).filter_by(product_id=product_id).delete()
            session.add_all(m.ProductCollection(product_id=product_id, collection_id=cid) for cid in ids)

    def update_product(self, id_or_handle: str, patch: s.ProductPatch) -> str:
        with self.toolbox.db.transaction() as session:
            product = self._product(session, id_or_handle)
            self._apply_handle_and_metadata(session, m.Product, product, patch)
            if patch.status is not None:
                product.status = patch.status
            if patch.translations is not None:
                self._upsert_product_texts(product, patch.translations)
            self._set_links(session, product.id, patch.categories, patch.collections)
            self._touch(session, product)
            return product.id

    def _upsert_product_texts(self, product: m.Product, texts: dict[str, s.ProductText]) -> None:
        self._upsert_texts(product.translations, {k: t.model_dump() for k, t in texts.items()}, m.ProductTranslation)

    def set_product_translation(self, id_or_handle: str, locale: str, text: s.ProductText) -> str:
        with self.toolbox.db.transaction() as session:
            product = self._product(session, id_or_handle)
            self._upsert_product_texts(product, {locale: text})
            self._touch(session, product)
            return product.id

    def delete_product_translation(self, id_or_handle: str, locale: str) -> str:
        with self.toolbox.db.transaction() as session:
            self.check_locales([locale])
            if locale == self.default_locale:
                raise InvalidInput("the default locale's text cannot be removed", code="missing_default_locale")
            product = self._product(session, id_or_handle)
            product.translations = [t for t in product.translations if t.locale != locale]
            self._touch(session, product)
            return product.id

    def _touch(self, session: Session, product: m.Product) -> None:
        from toolbox_core.db.base import utcnow

        product.updated_at = utcnow()
        self._flush(session)
        self.refresh(session, [product.id])
        emit(session, "product.updated", {"product_id": product.id, "handle": product.handle, "status": product.status})

    def delete_product(self, id_or_handle: str) -> dict[str, Any]:
        """Delete a product and its variants, then its image files (after the commit, so a
        failed delete never loses files of a product that still exists)."""
        from toolbox_core.catalog.storage import get_storage

        with self.toolbox.db.transaction() as session:
            product = self._product(session, id_or_handle)
            keys = list(session.scalars(select(m.ProductImage.storage_key).where(m.ProductImage.product_id == product.id)))
            payload = {"product_id": product.id, "handle": product.handle, "status": product.status}
            if session.scalar(select(m.SearchEntry.published).where(m.SearchEntry.product_id == product.id)):
                add_to_counter(session, PUBLISHED_COUNTER, -1)
            session.delete(product)
            self._flush(session)
            new_version_on_commit(session)  # its documents go by cascade, not refresh_documents
            emit(session, "product.deleted", payload)
        storage = get_storage(self.toolbox)
        for key in keys:
            storage.delete(key)
        return {**payload, "image_keys": keys}

    # ------------------------------------------------------------------ variants
    def add_variant(self, id_or_handle: str, data: s.VariantIn) -> str:
        with self.toolbox.db.transaction() as session:
            product = self._product(session, id_or_handle)
            self._check_skus_free(session, [data.sku])
            position = len(product.variants)
            variant = self._add_variant(session, product.id, data, self._option_values(session, product.id), position)
            self._touch(session, product)
            return variant.id

    def update_variant(self, variant_id: str, patch: s.VariantPatch) -> str:
        with self.toolbox.db.transaction() as session:
            variant = self._variant(session, variant_id)
            fields = patch.model_dump(exclude_unset=True, exclude={"translations", "options", "metadata"})
            if "sku" in fields and fields["sku"] is not None:
                self._check_skus_free(session, [fields["sku"]], [variant.id])
            for required in ("sku", "price", "weight_grams"):
                if required in fields and fields[required] is None:
                    raise InvalidInput(f"{required} cannot be null", code="invalid_input")
            for key, value in fields.items():
                setattr(variant, key, value)
            if patch.metadata is not None:
                variant.metadata_ = patch.metadata
            if patch.translations is not None:
                texts = {k: t.model_dump() for k, t in patch.translations.items()}
                self._upsert_texts(variant.translations, texts, m.VariantTranslation)
            if patch.options is not None:
                ids = self._value_ids(patch.options, self._option_values(session, variant.product_id), variant.sku)
                session.query(m.VariantOptionValue).filter_by(variant_id=variant.id).delete()
                session.add_all(m.VariantOptionValue(variant_id=variant.id, value_id=v) for v in ids)
            self._touch(session, variant.product)
            return variant.id

    def delete_variant(self, variant_id: str) -> None:
        with self.toolbox.db.transaction() as session:
            variant = self._variant(session, variant_id)
            product = variant.product
            if len(product.variants) <= 1:
                raise Conflict("a product keeps at least one variant; delete the product instead", code="last_variant")
            session.delete(variant)
            self._touch(session, product)

    # ------------------------------------------------------------------ categories
    def create_category(self, data: s.CategoryIn, *, session: Session | None = None) -> str:
        if session is None:
            with self.toolbox.db.transaction() as tx:
                return self.create_category(data, session=tx)
        self.check_locales(data.translations, require_default=True, what="a category")
        self._check_handle_free(session, m.Category, data.handle)
        parent = self._category(session, data.parent, invalid=True).id if data.parent else None
        cat = m.Category(id=new_id("cat"), handle=data.handle, parent_id=parent, position=data.position, metadata_=data.metadata)
        cat.translations = [m.CategoryTranslation(locale=k, name=t.name, description=t.description) for k, t in data.translations.items()]
        session.add(cat)
        self._flush(session)
        return cat.id

    def update_category(self, ref: str, patch: s.CategoryPatch) -> str:
        with self.toolbox.db.transaction() as session:
            cat = self._category(session, ref)
            self._apply_handle_and_metadata(session, m.Category, cat, patch)
            if "parent" in patch.model_fields_set:
                cat.parent_id = self._new_parent(session, cat, patch.parent)
            if patch.position is not None:
                cat.position = patch.position
            if patch.translations is not None:
                texts = {k: t.model_dump() for k, t in patch.translations.items()}
                self._upsert_texts(cat.translations, texts, m.CategoryTranslation)
            self._flush(session)
            self._refresh_linked(session, product_ids_in_categories(session, [cat.id]))
            return cat.id

    def _new_parent(self, session: Session, cat: m.Category, ref: str | None) -> str | None:
        if ref is None:
            return None
        parent = self._category(session, ref, invalid=True)
        parents = dict(session.execute(select(m.Category.id, m.Category.parent_id)).all())
        node: str | None = parent.id
        while node is not None:
            if node == cat.id:
                raise InvalidInput(
                    f"category {cat.handle!r} cannot move under {parent.handle!r}: that would make a cycle",
                    code="category_cycle",
                )
            node = parents.get(node)
        return parent.id

    def delete_category(self, ref: str) -> None:
        with self.toolbox.db.transaction() as session:
            cat = self._category(session, ref)
            if session.scalar(select(m.Category.id).where(m.Category.parent_id == cat.id).limit(1)):
                raise Conflict(f"category {cat.handle!r} has subcategories; move or delete them first", code="category_not_empty")
            affected = product_ids_in_categories(session, [cat.id])
            session.delete(cat)
            self._flush(session)
            self._refresh_linked(session, affected)

    def _refresh_linked(self, session: Session, product_ids: list[str]) -> None:
        if not product_ids:
            return
        self.refresh(session, product_ids)
        for pid, handle, status in session.execute(
            select(m.Product.id, m.Product.handle, m.Product.status).where(m.Product.id.in_(product_ids))
        ):
            emit(session, "product.updated", {"product_id": pid, "handle": handle, "status": status})

    # ------------------------------------------------------------------ collections
    def create_collection(self, data: s.CollectionIn, *, session: Session | None = None) -> str:
        if session is None:
            with self.toolbox.db.transaction() as tx:
                return self.create_collection(data, session=tx)
        self.check_locales(data.translations, require_default=True, what="a collection")
        self._check_handle_free(session, m.Collection, data.handle)
        col = m.Collection(id=new_id("coll"), handle=data.handle, metadata_=data.metadata)
        col.translations = [m.CollectionTranslation(locale=k, title=v) for k, v in data.translations.items()]
        session.add(col)
        self._flush(session)
        return col.id

    def update_collection(self, ref: str, patch: s.CollectionPatch) -> str:
        with self.toolbox.db.transaction() as session:
            col = self._collection(session, ref)
            self._apply_handle_and_metadata(session, m.Collection, col, patch)
            if patch.translations is not None:
                texts = {k: {"title": title} for k, title in patch.translations.items()}
                self._upsert_texts(col.translations, texts, m.CollectionTranslation)
            self._flush(session)
            self._refresh_linked(session, product_ids_in_collections(session, [col.id]))
            return col.id

    def delete_collection(self, ref: str) -> None:
        with self.toolbox.db.transaction() as session:
            col = self._collection(session, ref)
            affected = product_ids_in_collections(session, [col.id])
            session.delete(col)
            self._flush(session)
            self._refresh_linked(session, affected)


def _short(exc: IntegrityError) -> str:
    return str(exc.orig).splitlines()[0][:200] if exc.orig else "integrity error"

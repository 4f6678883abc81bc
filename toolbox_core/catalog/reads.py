"""Store reads: product pages, product detail and the category tree, off the read model.

A product page is one statement (page, stock of its variants, total) whatever its size;
documents are stored as JSON text and spliced, not decoded, to add live availability:
``available`` per variant is the sum over locations of ``max(stocked - reserved, 0)``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    ARRAY,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Connection

from toolbox_core.catalog import models as m
from toolbox_core.catalog.cache import (
    VERSION_COUNTER,
    Entry,
    Rendering,
    etag_of,
    local_writes,
    now,
    page_cache,
)
from toolbox_core.catalog.documents import MEDIA_PREFIX, PUBLISHED_COUNTER
from toolbox_core.catalog.search import get_search, query_key, ranked_ids
from toolbox_core.catalog.storage import get_storage
from toolbox_core.errors import NotFound
from toolbox_core.i18n import pick_translation
from toolbox_core.inventory.models import InventoryLevel

log = logging.getLogger(__name__)
Sort = Literal["newest", "price_asc", "price_desc", "relevance"]
D = m.ProductDocument
_ORDER = {
    "newest": (D.created_at.desc(), D.product_id.desc()),
    "relevance": (D.created_at.desc(), D.product_id.desc()),
    "price_asc": (D.min_price.asc(), D.product_id.asc()),
    "price_desc": (D.min_price.desc(), D.product_id.desc()),
}


@dataclass(frozen=True)
class ProductQuery:
    locale: str
    limit: int = 20
    offset: int = 0
    category: str | None = None
    collection: str | None = None
    price_min: int | None = None
    price_max: int | None = None
    in_stock: bool | None = None
    sort: Sort | None = None
    q: str | None = None


class Served(NamedTuple):
    """A store read's response: the JSON body and its strong ETag."""

    body: bytes
    etag: str


def _served(text: str) -> Served:
    body = text.encode()
    return Served(body, etag_of(body))


MEDIA = MEDIA_PREFIX
#: ``published`` for reads by product id: ``= 1`` lets SQLite (no statistics) prefer the
#: (locale, published) indexes and scan every product of the locale instead of key lookups.
_PUBLISHED_NO_INDEX = D.published != false()


#: ``finish_doc``'s default: ask the storage for the URL prefix.
_ASK: Any = object()


def finish_doc(doc: str, stock: dict[str, int], storage: Any, prefix: str | None = _ASK) -> str:
    """The stored document with live availability and image URLs, as JSON text.

    Documents are spliced as text (no decode/encode): each variant object starts with its
    unique ``{"id":"var_...",`` and the product with ``{``; image URLs are stored as
    ``tbx-media://<key>`` and become public URLs by prefix (``prefix``, by default the
    storage's). Presigned storage decodes instead.
    """
    any_stock = False
    for vid, available in stock.items():
        in_stock = available > 0
        any_stock = any_stock or in_stock
        marker = f'{{"id":"{vid}",'
        doc = doc.replace(marker, f'{marker}"available":{available},"in_stock":{"true" if in_stock else "false"},', 1)
    doc = '{"in_stock":' + ("true" if any_stock else "false") + "," + doc[1:]
    if MEDIA in doc:
        if prefix is _ASK:
            prefix = _prefix(storage)
        if prefix is not None:
            doc = doc.replace(f'"{MEDIA}', f'"{prefix}')
        else:
            data = json.loads(doc)
            for image in data["images"]:
                image["url"] = storage.url(image["url"].removeprefix(MEDIA))
            doc = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return doc


def category_descendants(session: Connection, ref: str) -> list[str]:
    """Ids of category ``ref`` (id or handle) and all categories below it."""
    rows = session.execute(select(m.Category.id, m.Category.handle, m.Category.parent_id)).all()
    root = next((cid for cid, handle, _ in rows if ref in (cid, handle)), None)
    if root is None:
        raise NotFound(f"category {ref!r} not found", code="unknown_category")
    children: dict[str | None, list[str]] = defaultdict(list)
    for cid, _, parent in rows:
        children[parent].append(cid)
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children.get(node, []))
    return out


def _reader(toolbox: Any, *, autocommit: bool = True) -> Connection:
    """A read connection; on PostgreSQL in autocommit, saving the BEGIN/ROLLBACK round trips
    (each statement sees a committed snapshot, as under READ COMMITTED anyway)."""
    conn = toolbox.db.engine.connect()
    if autocommit and not toolbox.db.is_sqlite:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def _filtered(query: ProductQuery) -> bool:
    """True when ``query`` filters by more than a search (category, collection, price, stock)."""
    return bool(query.category or query.collection or query.price_min is not None
                or query.price_max is not None or query.in_stock is not None)


def _page_key(toolbox: Any, query: ProductQuery) -> tuple[Any, ...] | None:
    """The page cache key of ``query``: an unfiltered page, or a search without filters on the
    database backend (whose every input is written with the catalog version; Meilisearch's
    index changes on its own). ``None``: not cached."""
    if _filtered(query):
        return None
    sort = query.sort or ("relevance" if query.q else "newest")
    if not query.q:
        return ("list", query.locale, sort, query.limit, query.offset)
    if get_search(toolbox).name != "database":
        return None
    return ("search", *query_key(query.q), query.locale, sort, query.limit, query.offset)


def _window(toolbox: Any) -> float:
    return toolbox.settings.store_fresh_seconds


class Fresh(NamedTuple):
    """A fresh cached response and, when its entry is past half its window, the check to
    run once it is sent (:func:`refresh`)."""

    served: Served
    refresh: Callable[[], None] | None


def _fresh(toolbox: Any, keys: Any, window: float) -> Fresh | None:
    cache = page_cache(toolbox)
    for key in keys:
        if key not in cache:
            continue
        # An entry exists only after a read through the database, which built the storage in
        # a thread: asking for it here does no I/O on the event loop.
        hit = cache.fresh(key, _prefix(get_storage(toolbox)), window)
        if hit is not None:
            body, etag, entry = hit
            again = None if entry is None else partial(refresh, toolbox, key, entry)
            return Fresh(Served(body, etag), again)
    return None


def fresh_products(toolbox: Any, query: ProductQuery) -> Fresh | None:
    """The cached response of a list or search page checked less than ``store_fresh_seconds``
    ago, with no I/O (for the event loop); ``None``: call :func:`serve_products`."""
    window = _window(toolbox)
    key = _page_key(toolbox, query) if window > 0 else None
    return None if key is None else _fresh(toolbox, (key,), window)


def fresh_product(toolbox: Any, id_or_handle: str, locale: str) -> Fresh | None:
    """:func:`fresh_products` for a product detail."""
    window = _window(toolbox)
    if window <= 0:
        return None
    return _fresh(toolbox, [("detail", by, id_or_handle, locale) for by in ("handle", "id")], window)


def list_products(toolbox: Any, query: ProductQuery) -> str:
    """A page of published products with the total matching the filters, as JSON text."""
    return serve_products(toolbox, query).body.decode()


def _page_text(items: str, total: int, query: ProductQuery) -> str:
    return f'{{"items":[{items}],"total":{int(total)},"limit":{query.limit},"offset":{query.offset}}}'


def _page_frame(query: ProductQuery, total: int | None) -> tuple[str, str]:
    """The text of a page's response before and after its items."""
    return '{"items":[', f'],"total":{int(total or 0)},"limit":{query.limit},"offset":{query.offset}}}'


def _detail_frame(_total: int | None) -> tuple[str, str]:
    return "", ""


def serve_products(toolbox: Any, query: ProductQuery) -> Served:
    """:func:`list_products` as a response (body and ETag); cacheable pages checked against
    the database (one statement when cached)."""
    key = _page_key(toolbox, query)
    if key is not None:
        return (_unfiltered_list if key[0] == "list" else _search_page)(toolbox, query, key)
    return _query_page(toolbox, query)


def _query_page(toolbox: Any, query: ProductQuery) -> Served:
    """A filtered (or search) page, built for ``query`` and read with no cache."""
    with _reader(toolbox) as session:
        ranked = ranked_ids(toolbox, session, query.q) if query.q else None
        if ranked == []:
            return _served(_page_text("", 0, query))
        filters = _filters(session, query)
        if ranked is not None:
            # At most a few hundred candidates, ordered by the sort then their rank: the page,
            # its stock and the total (a window count over the matches) in one statement.
            statement, params = _search_statement(session, query, query.sort or "relevance", ranked, filters)
            docs, total = _page_with_stock(session, None, None, params, statement=statement)
            if total is None:  # a page past the last match: count the matches on their own
                total = _count(session, [*_search_where(session, ranked, query.locale)[0], *filters])
        else:
            where = [D.locale == query.locale, D.published == true(), *filters]
            order = _ORDER[query.sort or "newest"]
            page = (
                select(D.product_id, D.doc, func.row_number().over(order_by=order).label("pos"))
                .where(*where).order_by(*order).limit(query.limit).offset(query.offset).subquery()
            )
            docs, total = _page_with_stock(session, page, select(func.count()).select_from(D).where(*where).scalar_subquery())
            if total is None:  # empty page: count on its own
                total = _count(session, where)
    storage = get_storage(toolbox)
    items = ",".join(finish_doc(doc, stock, storage) for doc, stock in docs)
    return _served(_page_text(items, total, query))


def _count(session: Connection, where: Any) -> int:
    """The number of documents matching ``where``."""
    return session.scalar(select(func.count()).select_from(D).where(*where)) or 0


def _filters(session: Connection, query: ProductQuery) -> list[Any]:
    """The conditions of ``query``'s filters (category, collection, price, stock) on documents."""
    filters = []
    if query.category:
        ids = category_descendants(session, query.category)
        filters.append(exists().where(m.ProductCategory.product_id == D.product_id, m.ProductCategory.category_id.in_(ids)))
    if query.collection:
        col = session.scalar(select(m.Collection.id).where(or_(m.Collection.id == query.collection, m.Collection.handle == query.collection)))
        if col is None:
            raise NotFound(f"collection {query.collection!r} not found", code="unknown_collection")
        filters.append(exists().where(m.ProductCollection.product_id == D.product_id, m.ProductCollection.collection_id == col))
    if query.price_min is not None or query.price_max is not None:
        V = m.ProductVariant
        cond = [V.product_id == D.product_id]
        if query.price_min is not None:
            cond.append(V.price >= query.price_min)
        if query.price_max is not None:
            cond.append(V.price <= query.price_max)
        filters.append(exists().where(and_(*cond)))
    if query.in_stock is not None:
        V, L = m.ProductVariant, InventoryLevel
        stocked = exists().where(V.product_id == D.product_id, L.sku == V.sku, L.stocked > L.reserved)
        filters.append(stocked if query.in_stock else ~stocked)
    return filters


def _search_where(session: Connection, ranked: list[str], locale: str) -> tuple[list[Any], Any]:
    """The conditions of the published documents in ``locale`` of ``ranked`` (product ids, best
    first) and the expression of their rank."""
    found = _ids_param(session, ranked)
    return [_ids_in(session, found), D.locale == locale, _PUBLISHED_NO_INDEX], _rank(session, found, ranked)


def _search_statement(session: Connection, query: ProductQuery, sort: str, ranked: list[str],
                      filters: list[Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """The statement of a page of search results ``ranked`` (also matching ``filters``) and its
    parameters: rows ``(product_id, pos, doc, stock, total)``. A search without filters on
    PostgreSQL runs the prebuilt statement (:func:`_ranked_search_page`)."""
    params: dict[str, Any] = {"locale": query.locale, "limit": query.limit, "offset": query.offset}
    if not filters and session.dialect.name == "postgresql":
        return _ranked_search_page(sort), {**params, "ids": ranked}
    where, rank = _search_where(session, ranked, query.locale)
    return _ranked_page([*where, *(filters or ())], rank, sort, query.locale, query.limit, query.offset), params


def _availability() -> Any:
    """``"var_a:3,var_b:0"``: each variant (``ProductVariant``, correlated) with the sum over
    locations of ``max(stocked - reserved, 0)``."""
    V, L = m.ProductVariant, InventoryLevel
    per_location = case((L.stocked > L.reserved, L.stocked - L.reserved), else_=0)
    available = select(func.coalesce(func.sum(per_location), 0)).where(L.sku == V.sku).correlate(V).scalar_subquery()
    return func.aggregate_strings(V.id + ":" + cast(available, String), ",")


def _version() -> Any:
    """The catalog version (see :mod:`.cache`), read in the statement it belongs with."""
    return _version_select().scalar_subquery()


@lru_cache(maxsize=1)
def _version_select() -> Any:
    return select(m.CatalogCounter.value).where(m.CatalogCounter.name == VERSION_COUNTER)


def _unfiltered_list(toolbox: Any, query: ProductQuery, key: tuple[Any, ...]) -> Served:
    """An unfiltered page (the storefront's most common request): a prebuilt statement, the
    write-maintained counter as its total, and the page cache (no SQL expression built)."""
    params = {"locale": query.locale, "limit": query.limit, "offset": query.offset}
    with _reader(toolbox) as session:
        statement = _unfiltered_page(key[2])
        cached = _cached_page(toolbox, session, key, lambda: session.execute(statement, params).all(),
                              partial(_page_frame, query))
        if cached is not None and cached[1] is not None:
            return _respond(cached[0])
        # Empty page (or counter not initialised): count on its own.
        total = _count(session, (D.locale == query.locale, D.published == true()))
    return _served(_page_text(cached[0].items if cached is not None else "", total, query))


def _search_page(toolbox: Any, query: ProductQuery, key: tuple[Any, ...]) -> Served:
    """A search page without filters, through the page cache like an unfiltered page.

    Filled by the bounded candidate step (:func:`ranked_ids`) and one page statement; the
    version is read before them, so a write committed in between leaves the entry out of
    date (replaced at its next check), never a newer version over older results.
    """
    sort, q = query.sort or "relevance", query.q or ""

    def load() -> list[Any]:
        version = session.scalar(_version_select())
        ranked = ranked_ids(toolbox, session, q)
        if not ranked:
            return []
        statement, params = _search_statement(session, query, sort, ranked)
        return [(*row, version) for row in session.execute(statement, params).all()]

    with _reader(toolbox) as session:
        cached = _cached_page(toolbox, session, key, load, partial(_page_frame, query))
    if cached is None:  # no match, or a page past the last match (its total is not known)
        if query.offset:
            # Rare: count the matches for the total, as the uncached path does.
            return _query_page(toolbox, query)
        return _served(_page_text("", 0, query))
    return _respond(cached[0])


def _page_statement(page: Any, total: Any, *, version: bool = False) -> Any:
    """Rows of ``page`` (a subquery with product_id, doc, pos), each with its variants'
    availability as ``"var_a:3,var_b:0"`` and ``total`` (and the catalog version): one
    statement, one round trip, each document sent once."""
    V = m.ProductVariant
    stock = select(_availability()).where(V.product_id == page.c.product_id).correlate(page).scalar_subquery()
    columns = [page.c.product_id, page.c.pos, page.c.doc, stock.label("stock"), total.label("total")]
    return select(*columns, _version().label("version")) if version else select(*columns)


@lru_cache(maxsize=2)
def _check_statement(dialect: str) -> Any:
    """Per product of ``:pids`` with variants: their live availability, with the catalog
    version; the version alone (product id NULL) when none of them has a variant, so a page of
    products without variants checks like any other."""
    V, C = m.ProductVariant, m.CatalogCounter
    pids = (V.product_id == any_(bindparam("pids", type_=ARRAY(String))) if dialect == "postgresql"
            else V.product_id.in_(bindparam("pids", expanding=True)))
    stock = select(V.product_id, _availability().label("stock")).where(pids).group_by(V.product_id).subquery()
    return (select(stock.c.product_id, stock.c.stock, C.value.label("version"))
            .select_from(C).outerjoin(stock, true()).where(C.name == VERSION_COUNTER))


def _prefix(storage: Any) -> str | None:
    """The storage's public URL prefix (``None``: URLs presigned per key, never reused)."""
    return getattr(storage, "public_prefix", lambda: None)()


def _cached_page(toolbox: Any, session: Connection, key: tuple[Any, ...], load: Any,
                 frame: Callable[[int | None], tuple[str, str]]) -> tuple[Rendering, int | None] | None:
    """The rendering (items: JSON objects joined by commas) and total of a cacheable page.

    With an entry: one check statement (which also checks other entries due a check, see
    :meth:`.PageCache.due`); its version current, the cached documents are rendered with the
    live stock (or the last rendering reused when nothing changed) and the entry counts as
    checked now. Else ``load()``: rows ``(product_id, pos, doc, stock, total, version)``, the
    version read no later than the documents; the entry is stored. ``None`` when the page is
    empty (the caller counts on its own). ``frame(total)``: the response's text around the
    items (each rendering carries its response, ready for the fresh path).
    """
    cache = page_cache(toolbox)
    storage = get_storage(toolbox)
    prefix = _prefix(storage)
    entry = cache.get(key)
    # Taken before the statement: a write committed meanwhile makes the entry not fresh.
    at, writes = now(), local_writes(cache.pool)
    if entry is not None:
        rendered = _check(toolbox, session, key, entry, prefix, storage, at, writes)
        if rendered is not None:
            return rendered, entry.total
    rows = sorted(load(), key=lambda r: r[1])
    if not rows:
        return None
    items = ",".join(finish_doc(doc, _parse_stock(available), storage, prefix) for _pid, _pos, doc, available, *_ in rows)
    total, version = rows[0][4], rows[0][5]
    around = frame(total)
    rendered = _rendering({pid: available for pid, _pos, _doc, available, *_ in rows}, prefix, items, around)
    if version is not None and total is not None:
        fresh = Entry(version, [(pid, doc) for pid, _pos, doc, *_ in rows], int(total), frame=around)
        fresh.checked(rendered, at, writes)
        cache.put(key, fresh)
    return rendered, total


def _check(toolbox: Any, session: Connection, key: tuple[Any, ...], entry: Entry, prefix: str | None,
           storage: Any, at: float, writes: int, *, background: bool = False) -> Rendering | None:
    """One check statement for ``entry`` and the other entries (nearly) due a check: the
    entry's current rendering, or ``None`` (and the entry dropped) if the catalog changed."""
    cache = page_cache(toolbox)
    batch = [(key, entry)]
    window = _window(toolbox)
    if window > 0:
        # The same statement checks the other pages in use past a quarter of their window (a
        # background check starts at half), so one round trip keeps a slice of the working
        # set fresh: a few statements per window instead of one per page.
        batch += cache.due(at - window / 4, at - 2 * window, key, CHECK_BATCH_PIDS - len(entry.docs))
    pids = list(dict.fromkeys(pid for _, item in batch for pid, _ in item.docs))
    checked = session.execute(_check_statement(session.dialect.name), {"pids": pids}).all()
    version = checked[0][2] if checked else None
    stock = {pid: available for pid, available, _ in checked if pid is not None}
    for other_key, other in batch[1:]:
        _recheck(cache, other_key, other, version, stock, prefix, storage, at, writes)
    return _recheck(cache, key, entry, version, stock, prefix, storage, at, writes, keep_prefix=background)


def refresh(toolbox: Any, key: tuple[Any, ...], entry: Entry) -> None:
    """Check ``entry`` (and others due) ahead of its window's end, after a fresh response
    was served from it (a background task: no request waits for it). Errors are logged: the
    entry then just expires and the next read checks it."""
    try:
        at, writes = now(), local_writes(page_cache(toolbox).pool)
        storage = get_storage(toolbox)
        with _reader(toolbox) as session:
            _check(toolbox, session, key, entry, _prefix(storage), storage, at, writes, background=True)
    except Exception:
        log.warning("catalog page cache: background check of %r failed", key, exc_info=True)
    finally:
        entry.refreshing_since = None


#: Product ids one check statement reads at most (its page's and other entries' due a check).
CHECK_BATCH_PIDS = 100


def _recheck(cache: Any, key: tuple[Any, ...], entry: Entry, version: Any, stock: dict[str, str | None],
             prefix: str | None, storage: Any, at: float, writes: int, *, keep_prefix: bool = True) -> Rendering | None:
    """Apply a check (the catalog ``version`` and live ``stock`` per product id, read after
    ``writes`` at ``at``) to ``entry``: its rendering (redone only if its stock or URL prefix
    changed), or ``None`` and the entry dropped when the catalog changed since it was read.

    ``keep_prefix``: an entry checked for another request (or in the background) keeps the
    URL prefix it was rendered with (the prefix may be per request: its ``Host``)."""
    if version is None or version != entry.version:
        cache.discard(key, entry)
        return None
    raw = {pid: stock.get(pid) for pid, _ in entry.docs}
    rendered = entry.rendered
    if keep_prefix and rendered is not None and rendered.prefix is not None:
        prefix = rendered.prefix
    if rendered is None or prefix is None or rendered.stock != raw or rendered.prefix != prefix:
        items = ",".join(finish_doc(doc, _parse_stock(raw[pid]), storage, prefix) for pid, doc in entry.docs)
        rendered = _rendering(raw, prefix, items, entry.frame)
        current = entry.checked(rendered, at, writes)
        cache.recount(key, entry)  # the new rendering's size
    else:
        current = entry.checked(rendered, at, writes)
    return current if current.prefix == prefix else rendered


def _rendering(stock: dict[str, str | None], prefix: str | None, items: str, frame: tuple[str, str]) -> Rendering:
    """A rendering of ``items`` with its response (``frame`` around them), body and ETag."""
    served = _served(frame[0] + items + frame[1])
    return Rendering(stock, prefix, items, served.body, served.etag)


def _respond(rendered: Rendering) -> Served:
    """The response of ``rendered`` (built with it)."""
    return Served(rendered.body, rendered.etag)


def _page_with_stock(session: Connection, page: Any, total: Any, params: dict[str, Any] | None = None,
                     *, statement: Any = None) -> tuple[list[tuple[str, dict[str, int]]], int | None]:
    """Documents in ``pos`` order with the availability of each variant, and the total."""
    rows = session.execute(statement if statement is not None else _page_statement(page, total), params or {}).all()
    docs = [_with_stock(doc, stock) for _pid, _pos, doc, stock, _total in sorted(rows, key=lambda r: r[1])]
    return docs, (rows[0][4] if rows else None)


def _ids_param(session: Connection, ids: list[str]) -> Any:
    """``ids`` as one bound value: on PostgreSQL an array (``= ANY``), so the statement text,
    its compilation and psycopg's prepared statement are the same whatever the number of ids;
    elsewhere the list (an expanding ``IN``)."""
    return literal(ids, ARRAY(String)) if session.dialect.name == "postgresql" else ids


def _ids_in(session: Connection, ids: Any) -> Any:
    """``product_id`` among ``ids`` (from :func:`_ids_param`)."""
    if session.dialect.name == "postgresql":
        return D.product_id == any_(ids)
    return D.product_id.in_(ids)


def _rank(session: Connection, ids: Any, ranked: list[str]) -> Any:
    """The position of ``product_id`` in ``ranked`` (best first) as an SQL expression."""
    if session.dialect.name == "postgresql":
        return func.array_position(ids, D.product_id)
    return case({pid: i for i, pid in enumerate(ranked)}, value=D.product_id)


def _with_stock(doc: str, stock: str | None) -> tuple[str, dict[str, int]]:
    """A document and its availability per variant, from ``"var_a:3,var_b:0"``."""
    return doc, _parse_stock(stock)


def _parse_stock(stock: str | None) -> dict[str, int]:
    """``{"var_a": 3, "var_b": 0}`` from ``"var_a:3,var_b:0"``."""
    pairs = (item.rpartition(":") for item in stock.split(",")) if stock else ()
    return {vid: int(n) for vid, _, n in pairs}


def _ranked_page(where: Any, rank: Any, sort: str, locale: Any, limit: Any, offset: Any) -> Any:
    """A page of search results: the matches of ``where`` ordered by ``sort`` then ``rank``,
    with their stock and the number of matches (a window count, computed before the limit)."""
    order = (rank,) if sort == "relevance" else (_ORDER[sort][0], rank)
    hits = (
        select(D.product_id, func.row_number().over(order_by=order).label("pos"), func.count().over().label("n"))
        .where(*where).order_by(*order).limit(limit).offset(offset).subquery()
    )
    page = (
        select(hits.c.product_id, D.doc, hits.c.pos, hits.c.n)
        .join(D, and_(D.product_id == hits.c.product_id, D.locale == locale)).subquery()
    )
    return _page_statement(page, page.c.n)


@lru_cache(maxsize=8)
def _ranked_search_page(sort: str) -> Any:
    """The prebuilt (compiled once) PostgreSQL statement of a search page without filters."""
    ids = bindparam("ids", type_=ARRAY(String))
    locale = bindparam("locale")
    where = (D.product_id == any_(ids), D.locale == locale, _PUBLISHED_NO_INDEX)
    return _ranked_page(where, func.array_position(ids, D.product_id), sort, locale, bindparam("limit"), bindparam("offset"))


@lru_cache(maxsize=8)
def _unfiltered_page(sort: str) -> Any:
    """The prebuilt statement of an unfiltered page (the storefront's most common request)."""
    where = (D.locale == bindparam("locale"), D.published == true())
    order = _ORDER[sort]
    total = select(m.CatalogCounter.value).where(m.CatalogCounter.name == PUBLISHED_COUNTER).scalar_subquery()
    page = (
        select(D.product_id, D.doc, func.row_number().over(order_by=order).label("pos"))
        .where(*where).order_by(*order).limit(bindparam("limit")).offset(bindparam("offset")).subquery()
    )
    return _page_statement(page, total, version=True)


@lru_cache(maxsize=2)
def _detail(by: str) -> Any:
    column = D.handle if by == "handle" else D.product_id
    page = (
        select(D.product_id, D.doc, literal(1).label("pos"))
        .where(column == bindparam("ref"), D.locale == bindparam("locale"), D.published == true()).subquery()
    )
    return _page_statement(page, literal(1), version=True)


def published_count(session: Connection) -> int | None:
    """The write-maintained number of published products (``None`` if not initialised)."""
    return session.scalar(select(m.CatalogCounter.value).where(m.CatalogCounter.name == PUBLISHED_COUNTER))


def get_product(toolbox: Any, id_or_handle: str, locale: str) -> str:
    """One published product by id or handle, as JSON text."""
    return serve_product(toolbox, id_or_handle, locale).body.decode()


def serve_product(toolbox: Any, id_or_handle: str, locale: str) -> Served:
    """:func:`get_product` as a response (body and ETag), through the page cache."""
    with _reader(toolbox) as session:
        # Two point lookups (handle, then id) instead of an OR the planners handle poorly.
        for by in ("handle", "id"):
            params = {"ref": id_or_handle, "locale": locale}
            statement = _detail(by)
            found = _cached_page(toolbox, session, ("detail", by, id_or_handle, locale),
                                 lambda: session.execute(statement, params).all(), _detail_frame)  # noqa: B023 (called at once)
            if found is not None:
                return _respond(found[0])
        raise NotFound(f"product {id_or_handle!r} not found")


def category_tree(toolbox: Any, locale: str) -> list[dict[str, Any]]:
    """Every category as a tree of ``{id, handle, name, description, children}``."""
    default = toolbox.settings.default_locale
    with toolbox.db.session() as session:
        cats = session.scalars(select(m.Category).order_by(m.Category.position, m.Category.handle)).all()
        nodes = {}
        for c in cats:
            t = pick_translation(c.translations, locale, default)
            nodes[c.id] = {
                "id": c.id, "handle": c.handle, "name": t.name if t else c.handle,
                "description": t.description if t else "", "parent_id": c.parent_id, "children": [],
            }
    roots = []
    for c in cats:
        node = nodes[c.id]
        (nodes[c.parent_id]["children"] if c.parent_id in nodes else roots).append(node)
    return roots

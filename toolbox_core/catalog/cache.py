"""A bounded per-process cache of store pages, correct across any number of API processes.

Only public catalog data is kept: the published documents of an unfiltered product page, a
search page without filters (database search backend) or a product detail, as the database
returned them. Each entry carries the catalog version read in the same statement as its
documents (a search page: read before its candidates). :func:`~toolbox_core.catalog.documents.refresh_documents`
(the one writer of documents) sets a new random version in the writer's transaction, so a
process that reads the version reads a state at least as new as the documents behind it.

A checked hit costs one small statement (the version and the live stock of the entry's
variants): the version unchanged, the cached documents are the current ones and the page is
rendered with the live stock. The rendered JSON (and its response body and ETag) is reused
while the stock and the image URL prefix it was rendered with are unchanged.

For ``store_fresh_seconds`` after that check (or the read that filled it) the entry's response
is *fresh*: the store routes serve it on the event loop with no statement and no thread
(:meth:`PageCache.fresh`). So a change made in another process (an admin write, a sale's
stock) shows within that window; a catalog write committed in this process ends every
entry's freshness at once (:func:`note_local_write`). Checkout always checks real stock.
A check also checks the other pages in use that are longest unchecked (:meth:`PageCache.due`),
and a page served past half its window is checked in the background, so a working set stays
fresh with a few statements per window.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

#: Name of the catalog version in ``catalog_counters``.
VERSION_COUNTER = "catalog_version"
#: Bytes the entries hold per process (see :func:`held_bytes`); the least recently used go first.
MAX_BYTES = 16 * 1024 * 1024
#: A larger page (a long ``limit`` of big documents) is served but not kept.
MAX_ENTRY_BYTES = 1024 * 1024
#: Bytes an entry holds besides its texts: the :class:`Entry`, its :class:`Rendering`, their
#: tuples, dicts and ETag, and the cache's key and slot (measured with ``tracemalloc``, rounded up).
ENTRY_OVERHEAD = 1200
#: Bytes each document of an entry holds besides its text: its ``(product id, document)``
#: pair, the product id and its stock in the rendering (measured likewise, rounded up).
DOC_OVERHEAD = 300


#: The clock of freshness (monotonic seconds); tests may replace it.
clock = time.monotonic
#: Fraction of the freshness window after which a served entry is checked in the background.
REFRESH_AT = 0.5
#: Serialises :meth:`Entry.checked` (held for two comparisons and an assignment).
_state_lock = threading.Lock()
#: The mark of the latest catalog write this process committed, per database (its connection
#: pool). Marks come from one process-wide sequence, so a pool that replaces another (the
#: engine's ``dispose()``) never repeats a mark an entry was checked at.
_local_writes: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_write_marks = itertools.count(1)


def now() -> float:
    """The current time of :data:`clock`."""
    return clock()


def local_writes(pool: Any) -> int:
    """The mark of the latest catalog write this process committed to the database of ``pool``
    (0: none; an entry checked at another mark is not fresh)."""
    return _local_writes.get(pool, 0)


def note_local_write(pool: Any) -> None:
    """A catalog write was committed by this process to the database of ``pool``: no page
    cached from it before is fresh."""
    with _state_lock:
        _local_writes[pool] = next(_write_marks)


def etag_of(body: bytes) -> str:
    """A strong entity tag for ``body`` (128-bit BLAKE2b: collisions are not a concern)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def held_bytes(entry: Entry) -> int:
    """The memory ``entry`` holds: its documents' text, its rendering's items and encoded body
    (:func:`sys.getsizeof`: a text of Cyrillic is two bytes a character), plus the fixed
    overheads of :data:`ENTRY_OVERHEAD` and :data:`DOC_OVERHEAD` per document."""
    texts = sum(sys.getsizeof(doc) for _, doc in entry.docs)
    rendered = entry.rendered
    if rendered is not None:
        texts += sys.getsizeof(rendered.items) + sys.getsizeof(rendered.body)
    return texts + ENTRY_OVERHEAD + DOC_OVERHEAD * len(entry.docs)


@dataclass
class Rendering:
    """The items of an entry rendered with ``stock`` (per product, as read) and URL ``prefix``,
    and the response (body and ETag) built from them."""

    stock: dict[str, str | None]
    prefix: str | None
    items: str
    body: bytes
    etag: str


@dataclass
class Entry:
    """Documents of one page (``(product_id, doc)`` in order), their total and version."""

    version: int
    docs: list[tuple[str, str]]
    total: int
    #: :func:`held_bytes` when the cache last counted it.
    size: int = 0
    #: The text of the response before and after the rendered items.
    frame: tuple[str, str] = ("", "")
    #: ``(rendering, checked at, local writes then)``: the last rendering (reused while the
    #: stock and the URL prefix are unchanged), when the version and stock behind it were read
    #: (:data:`clock`) and :func:`local_writes` before that read. One attribute, replaced whole,
    #: so a reader never pairs a rendering with another check's time.
    state: tuple[Rendering | None, float, int] = field(default=(None, -1e18, -1))
    #: When a check ahead of the window's end was handed out (:data:`clock`; None: none is).
    #: A check that never ran (its response failed to send) stops counting after a window.
    refreshing_since: float | None = None
    #: When it was last served or read (:data:`clock`).
    used_at: float = field(default_factory=lambda: clock())

    @property
    def rendered(self) -> Rendering | None:
        return self.state[0]

    @property
    def checked_at(self) -> float:
        return self.state[1]

    def checked(self, rendered: Rendering, at: float, writes: int) -> Rendering:
        """The database said ``rendered`` was current at ``at`` (read after ``writes``); a check
        read later than that already recorded wins (its rendering is returned)."""
        with _state_lock:
            if self.state[0] is not None and self.state[1] > at:
                return self.state[0]
            self.state = (rendered, at, writes)
        return rendered

    @property
    def product_ids(self) -> list[str]:
        return [pid for pid, _ in self.docs]


class _NoPool:
    """The database of a :class:`PageCache` made without one (tests)."""


_NO_POOL = _NoPool()


class PageCache:
    """Thread-safe LRU of :class:`Entry` by key, bounded by the bytes its entries hold
    (:func:`held_bytes`: documents, rendered items and response body, overheads)."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_entry_bytes: int = MAX_ENTRY_BYTES, engine: Any = None) -> None:
        #: The engine of the database the pages come from: its pool counts this process's
        #: writes (see :func:`local_writes`), read at each use since ``dispose()`` replaces it.
        self.engine = engine
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def pool(self) -> Any:
        """The connection pool whose committed catalog writes end freshness (see :func:`local_writes`)."""
        return self.engine.pool if self.engine is not None else _NO_POOL

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: tuple[Any, ...]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                entry.used_at = clock()
            return entry

    def fresh(self, key: tuple[Any, ...], prefix: str | None,
              window: float) -> tuple[bytes, str, Entry | None] | None:
        """The response ``(body, etag, entry to check)`` of ``key`` if it was checked less than
        ``window`` seconds ago, after this process's last catalog write, and rendered with
        ``prefix``; else None (the caller reads through the database). Past half the window,
        the first caller also gets the entry, to check it once the response is sent (others
        don't while that check runs). No I/O: safe on the event loop."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        rendered, at, writes = entry.state
        now = clock()
        age = now - at
        if (rendered is None or prefix is None or rendered.prefix != prefix
                or writes != local_writes(self.pool) or age >= window):
            return None
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
            entry.used_at = now
            handed_out = entry.refreshing_since
            due = age >= window * REFRESH_AT and (handed_out is None or now - handed_out >= window)
            if due:
                entry.refreshing_since = now
        return rendered.body, rendered.etag, entry if due else None

    def put(self, key: tuple[Any, ...], entry: Entry) -> None:
        """Keep ``entry`` (with its rendering) as ``key``'s, unless it alone is larger than
        ``max_entry_bytes``; the least recently used entries go while over ``max_bytes``."""
        entry.size = held_bytes(entry)
        if entry.size > self.max_entry_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            self._evict()

    def recount(self, key: tuple[Any, ...], entry: Entry) -> None:
        """Count ``entry`` (``key``'s, if still kept) again after its rendering was replaced:
        live stock and the URL prefix change the rendering's size."""
        with self._lock:
            if self._entries.get(key) is not entry:
                return
            size = held_bytes(entry)
            self._bytes += size - entry.size
            entry.size = size
            self._evict()

    def _evict(self) -> None:
        """Drop the least recently used entries while over ``max_bytes`` (lock held)."""
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

    def discard(self, key: tuple[Any, ...], entry: Entry | None = None) -> None:
        """Drop ``key`` (only if it still holds ``entry``, when given)."""
        with self._lock:
            old = self._entries.get(key)
            if old is not None and (entry is None or old is entry):
                del self._entries[key]
                self._bytes -= old.size

    def due(self, before: float, used_since: float, skip: tuple[Any, ...], max_pids: int,
            scan: int = 2048) -> list[tuple[tuple[Any, ...], Entry]]:
        """Entries in use (served since ``used_since``) other than ``skip``, last checked before
        ``before``: the longest unchecked first, with at most ``max_pids`` product ids in all.

        The longest unchecked of the pages in use are the next to stop being fresh (in a
        storefront's steady traffic, the next to be asked for while not fresh): checking them
        with another page's check keeps the working set fresh with a few statements per window.
        """
        candidates: list[tuple[float, tuple[Any, ...], Entry]] = []
        with self._lock:
            for i, (key, entry) in enumerate(reversed(self._entries.items())):
                if i >= scan or entry.used_at < used_since:
                    break  # least recently used from here on
                if key != skip and entry.checked_at < before:
                    candidates.append((entry.checked_at, key, entry))
        candidates.sort(key=lambda c: c[0])
        out: list[tuple[tuple[Any, ...], Entry]] = []
        room = max_pids
        for _, key, entry in candidates:
            if len(entry.docs) <= room:
                out.append((key, entry))
                room -= len(entry.docs)
        return out

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """The bytes the kept entries hold (:func:`held_bytes` of each)."""
        return self._bytes


def page_cache(toolbox: Any) -> PageCache:
    """The process's page cache for ``toolbox`` (built once)."""
    cached = getattr(toolbox, "_catalog_page_cache", None)
    if cached is None:
        cached = toolbox._catalog_page_cache = PageCache(engine=toolbox.db.engine)
    return cached

"""A bounded per-process cache of store pages, correct across any number of API processes.

Only public catalog data is kept: the published documents of an unfiltered product page or a
product detail, as the database returned them. Each entry carries the catalog version read
in the same statement as its documents. :func:`~toolbox_core.catalog.documents.refresh_documents`
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
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

#: Name of the catalog version in ``catalog_counters``.
VERSION_COUNTER = "catalog_version"
#: Bytes of documents kept per process; the least recently used entries go first.
MAX_BYTES = 16 * 1024 * 1024
#: A larger page (a long ``limit`` of big documents) is served but not kept.
MAX_ENTRY_BYTES = 1024 * 1024


#: The clock of freshness (monotonic seconds); tests may replace it.
clock = time.monotonic
#: Catalog writes committed by this process (see :func:`note_local_write`).
_local_writes = 0


def now() -> float:
    """The current time of :data:`clock`."""
    return clock()


def local_writes() -> int:
    """How many catalog writes this process has committed (an entry checked before the
    latest one is not fresh)."""
    return _local_writes


def note_local_write() -> None:
    """A catalog write was committed by this process: no page cached before it is fresh."""
    global _local_writes
    _local_writes += 1


def etag_of(body: bytes) -> str:
    """A strong entity tag for ``body`` (128-bit BLAKE2b: collisions are not a concern)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


@dataclass
class Rendering:
    """The items of an entry rendered with ``stock`` (per product, as read) and URL ``prefix``,
    and the response built from them (set once by whoever serves it first: the same items
    always make the same body)."""

    stock: dict[str, str | None]
    prefix: str | None
    items: str
    body: bytes | None = None
    etag: str | None = None


@dataclass
class Entry:
    """Documents of one page (``(product_id, doc)`` in order), their total and version."""

    version: int
    docs: list[tuple[str, str]]
    total: int
    size: int = 0
    #: The last rendering, reused while the stock and the URL prefix are unchanged.
    rendered: Rendering | None = field(default=None)
    #: When the version and stock were last read (:data:`clock`), and :func:`local_writes` then.
    checked_at: float = field(default=-1e18)
    writes: int = field(default=-1)

    def checked(self, at: float, writes: int) -> None:
        """The database said this entry was current at ``at`` (read after ``writes``)."""
        self.checked_at, self.writes = at, writes

    @property
    def product_ids(self) -> list[str]:
        return [pid for pid, _ in self.docs]


class PageCache:
    """Thread-safe LRU of :class:`Entry` by key, bounded by the bytes of the documents."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def fresh(self, key: tuple[Any, ...], prefix: str | None, window: float) -> tuple[bytes, str] | None:
        """The response ``(body, etag)`` of ``key`` if it was checked less than ``window``
        seconds ago, after this process's last catalog write, and rendered with ``prefix``;
        else None (the caller reads through the database). No I/O: safe on the event loop."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        rendered = entry.rendered
        if (rendered is None or rendered.body is None or rendered.etag is None or prefix is None
                or rendered.prefix != prefix or entry.writes != _local_writes
                or clock() - entry.checked_at >= window):
            return None
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
        return rendered.body, rendered.etag

    def put(self, key: tuple[Any, ...], entry: Entry) -> None:
        entry.size = sum(len(doc) for _, doc in entry.docs) + 200
        if entry.size > self.max_entry_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def discard(self, key: tuple[Any, ...]) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes


def page_cache(toolbox: Any) -> PageCache:
    """The process's page cache for ``toolbox`` (built once)."""
    cached = getattr(toolbox, "_catalog_page_cache", None)
    if cached is None:
        cached = toolbox._catalog_page_cache = PageCache()
    return cached

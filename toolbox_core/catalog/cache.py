"""A bounded per-process cache of store pages, correct across any number of API processes.

Only public catalog data is kept: the published documents of an unfiltered product page or a
product detail, as the database returned them. Each entry carries the catalog version read
in the same statement as its documents. :func:`~toolbox_core.catalog.documents.refresh_documents`
(the one writer of documents) sets a new random version in the writer's transaction, so a
process that reads the version reads a state at least as new as the documents behind it.

A hit costs one small statement (the version and the live stock of the entry's variants):
the version unchanged, the cached documents are the current ones; stock is never cached, so
availability stays exact. The rendered JSON is reused while the stock and the image URL
prefix it was rendered with are unchanged.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

#: Name of the catalog version in ``catalog_counters``.
VERSION_COUNTER = "catalog_version"
#: Bytes of documents kept per process; the least recently used entries go first.
MAX_BYTES = 16 * 1024 * 1024
#: A larger page (a long ``limit`` of big documents) is served but not kept.
MAX_ENTRY_BYTES = 1024 * 1024


@dataclass
class Entry:
    """Documents of one page (``(product_id, doc)`` in order), their total and version."""

    version: int
    docs: list[tuple[str, str]]
    total: int
    size: int = 0
    #: ``(stock per product as read, url prefix, text)`` of the last rendering, reused while
    #: both are unchanged.
    rendered: tuple[dict[str, str | None], str | None, str] | None = field(default=None)

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

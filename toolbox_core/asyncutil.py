"""Calling code that may be sync or async, from sync or async callers.

Hooks and provider methods may be plain functions or coroutines. Async callers ``await
aresolve(result)``; sync callers use :func:`resolve`, which runs a coroutine on one shared
background event loop (so it also works from worker threads and inside a running loop's thread
pool) and blocks until it is done.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="toolbox-async", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def resolve(value: T | Awaitable[T], timeout: float | None = None) -> T:
    """Return ``value``, or the result of awaiting it when it is awaitable (from sync code)."""
    if not inspect.isawaitable(value):
        return value

    async def _await() -> Any:
        return await value

    future: Future[Any] = asyncio.run_coroutine_threadsafe(_await(), _background_loop())
    return future.result(timeout)


async def aresolve(value: T | Awaitable[T]) -> T:
    """Await ``value`` if it is awaitable, else return it (from async code)."""
    if inspect.isawaitable(value):
        return await value
    return value

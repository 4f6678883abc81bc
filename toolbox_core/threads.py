"""Where a request's blocking work runs: in a worker thread, or right on the event loop.

FastAPI runs a plain-``def`` endpoint in a worker thread, and then, when the endpoint has a
response model (a return annotation), goes back to the thread pool a second time to validate
what it returned. On this project's 2-core reference machine each trip costs about 0.15–0.3 ms
of CPU (waking a thread, handing the GIL over, waking the loop), as much as a database round
trip. Two tools cut that:

* :func:`in_thread` — a plain endpoint, one trip to the thread pool instead of two (the
  response is validated on the loop). For endpoints that may wait on outside services
  (a shipping quote over HTTP, a payment provider), where the loop must stay free.
* :func:`db_work` / :func:`run_db_work` — work that blocks only on a few short database
  statements (a gateway callback, a cart edit) runs **on the event loop**, with no trip at
  all, when ``http.inline_db_work`` is on (the default); with it off, in one trip.
* :func:`db_work_when` — an endpoint that calls an outside service only for some requests
  (choosing a carrier's shipping option, but not a flat rate: see ``providers.is_local``)
  stays on the loop for the others.

While inline work runs, its worker process serves nothing else, exactly like a worker of a
classic synchronous server (gunicorn's sync workers): its other requests wait their turn.
Measured with 2 workers and 16 clients (``benchmarks payme``): 25% more Payme cycles per second
and a shorter p99 than with the thread trip, and less PostgreSQL CPU (fewer backends busy at
once). Two bounds keep a stalled statement from stalling a worker for long: PostgreSQL's
``lock_timeout`` on every connection (``TOOLBOX_DATABASE_LOCK_TIMEOUT_MS``, 5 s by default),
and the rule that such work never calls outside services. Mark nothing else with it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def inline_db_work(toolbox: Any) -> bool:
    """Whether short database work runs on the event loop in this app (``http.inline_db_work``)."""
    return bool(toolbox.settings.http.inline_db_work)


async def run_db_work(toolbox: Any, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """From an ``async`` endpoint: run ``func`` (short, database-only, synchronous work) on the
    loop when ``http.inline_db_work`` is on, else in one worker-thread trip."""
    if inline_db_work(toolbox):
        return func(*args, **kwargs)
    return await run_in_threadpool(func, *args, **kwargs)


def _as_coroutine(endpoint: Endpoint, inline: bool | Callable[[dict[str, Any]], bool]) -> Endpoint:
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__qualname__} is already async: call run_db_work inside it instead")

    if callable(inline):
        decide = inline

        @functools.wraps(endpoint)
        async def run(**values: Any) -> Any:
            if decide(values):
                return endpoint(**values)
            return await run_in_threadpool(endpoint, **values)
    elif inline:
        @functools.wraps(endpoint)
        async def run(**values: Any) -> Any:
            return endpoint(**values)
    else:
        @functools.wraps(endpoint)
        async def run(**values: Any) -> Any:
            return await run_in_threadpool(endpoint, **values)

    # FastAPI reads the parameters and the return annotation through ``__wrapped__``; an async
    # function tells it to call the endpoint (and validate its answer) on the loop.
    return run  # type: ignore[return-value]


def in_thread(endpoint: Endpoint) -> Endpoint:
    """Decorator for a plain-``def`` endpoint: it runs in a worker thread, in one trip.

    Put it under the route decorator::

        @router.post("/{cart_id}/shipping")
        @in_thread
        def select_shipping(...): ...
    """
    return _as_coroutine(endpoint, inline=False)


def db_work(toolbox: Any) -> Callable[[Endpoint], Endpoint]:
    """Decorator for a plain-``def`` endpoint whose only blocking work is a few short database
    statements: on the event loop when ``http.inline_db_work`` is on, else as :func:`in_thread`.

    ::

        @router.post("/{cart_id}/lines")
        @db_work(toolbox)
        def add_line(...): ...
    """
    inline = inline_db_work(toolbox)
    return lambda endpoint: _as_coroutine(endpoint, inline=inline)


def db_work_when(toolbox: Any, inline: Callable[[dict[str, Any]], bool]) -> Callable[[Endpoint], Endpoint]:
    """Decorator for a plain-``def`` endpoint that calls an outside service only in some requests:
    ``inline(values)`` (the endpoint's arguments, as FastAPI resolved them) says whether this
    request's work is only short database statements; then it runs as :func:`db_work`, else as
    :func:`in_thread`. With ``http.inline_db_work`` off, always as :func:`in_thread`.

    ::

        @router.post("/{cart_id}/shipping")
        @db_work_when(toolbox, lambda values: is_local(providers.get(values["body"].provider_id), "quote"))
        def select_shipping(...): ...
    """
    if not inline_db_work(toolbox):
        return in_thread
    return lambda endpoint: _as_coroutine(endpoint, inline=inline)

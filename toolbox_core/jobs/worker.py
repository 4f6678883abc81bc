"""``toolbox worker``: Dramatiq workers, the event relay and (optionally) the scheduler.

Each process runs worker threads consuming the Redis broker and a relay thread; several
processes (or machines) are safe: the relay claims outbox rows with ``SKIP LOCKED`` and the
scheduler runs each tick once. SIGINT/SIGTERM stop gracefully.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox

log = logging.getLogger("toolbox.jobs")


def run_worker(toolbox: Toolbox, processes: int = 1, threads: int = 8, scheduler: bool = True) -> None:
    """Run ``processes`` worker processes of ``threads`` threads each until SIGINT/SIGTERM.

    With several processes, only the first runs the scheduler.
    """
    if processes <= 1:
        serve_worker(toolbox, threads=threads, scheduler=scheduler)
        return
    toolbox.close()
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child, args=(threads, scheduler and index == 0), name=f"toolbox-worker-{index}")
        for index in range(processes)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: each child stops gracefully

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for child in children:
        child.join()


def _child(threads: int, scheduler: bool) -> None:
    from toolbox_core.cli.main import _setup_logging
    from toolbox_core.kernel import Toolbox

    _setup_logging()  # a spawned process starts with no logging configured

    serve_worker(Toolbox.create(), threads=threads, scheduler=scheduler)


def serve_worker(toolbox: Toolbox, *, threads: int, scheduler: bool, stop: threading.Event | None = None) -> None:
    """Run workers, relay and scheduler in this process until ``stop`` is set or a signal arrives."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    toolbox.plugins.call_each("startup", toolbox=toolbox)
    toolbox.jobs.start(threads)
    if scheduler:
        toolbox.scheduler.start()
    log.info("worker running: %d threads, scheduler %s", threads, "on" if scheduler else "off")
    try:
        stop.wait()
    finally:
        toolbox.scheduler.stop()
        toolbox.jobs.stop()
        toolbox.plugins.call_each("shutdown", toolbox=toolbox)
        toolbox.close()

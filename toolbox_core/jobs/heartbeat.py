"""Worker heartbeat: is any worker consuming the Redis broker? (``/ready``, ``toolbox doctor``).

A process that consumes the Redis broker (``toolbox worker``, or ``toolbox serve`` with
in-process workers) writes :data:`HEARTBEAT_KEY` into the key store every
``jobs.worker_heartbeat_seconds``, with an expiry of three intervals. The key is live while at
least one worker is; nothing is remembered in process memory, so any API process can tell.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox

log = logging.getLogger("toolbox.jobs")

#: Key store key of the heartbeat (the Redis key store puts it under ``jobs.redis_namespace``,
#: like every key it holds).
HEARTBEAT_KEY = "jobs:worker:heartbeat"


class Heartbeat:
    """Writes the heartbeat now and then every interval from a daemon thread, until :meth:`stop`
    (one thread however often it is started; it may be started again after a stop)."""

    def __init__(self, toolbox: Toolbox, threads: int) -> None:
        self.toolbox = toolbox
        self.interval = toolbox.settings.jobs.worker_heartbeat_seconds
        self.info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "threads": threads}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """Write the heartbeat once; an unreachable key store is logged, and tried again next beat."""
        value = json.dumps(self.info | {"at": datetime.now(UTC).isoformat(timespec="seconds")})
        try:
            self.toolbox.keystore.set(HEARTBEAT_KEY, value, 3 * self.interval)
        except Exception as exc:
            log.warning("worker heartbeat not written: %s: %s", type(exc).__name__, exc)

    def start(self) -> None:
        """Beat now and keep beating; a heartbeat already beating is left as it is."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.beat()  # at once: a worker that just started is seen by the next /ready
        self._thread = threading.Thread(target=self._run, name="toolbox-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def stop(self) -> None:
        """Stop beating. The key is left to expire: other workers may be beating into it too."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def worker_status(toolbox: Toolbox) -> dict[str, Any]:
    """``{"status": "ok" | "missing", ...}``: whether a worker wrote its heartbeat lately.

    ``ok`` carries the last beat (host, pid, threads, at); ``missing`` an ``error`` when the
    key store could not be read. Only meaningful with Redis (``redis_url``) configured.
    """
    try:
        raw = toolbox.keystore.get(HEARTBEAT_KEY)
    except Exception as exc:
        return {"status": "missing", "error": type(exc).__name__}
    if raw is None:
        return {"status": "missing"}
    try:
        last = json.loads(raw)
    except ValueError:
        last = {}
    return {"status": "ok", "last_beat": last}

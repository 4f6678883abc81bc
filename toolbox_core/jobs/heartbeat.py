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

#: Key store key of the heartbeat (the key store adds its namespace on Redis).
HEARTBEAT_KEY = "jobs:worker:heartbeat"


def heartbeat_key(toolbox: Toolbox) -> str:
    """:data:`HEARTBEAT_KEY`, under ``jobs.redis_namespace`` unless the key store adds it itself.

    A key store without a ``namespace`` attribute writes keys as given; then the heartbeat is
    put under the namespace here, like every other key the kernel writes to Redis.
    """
    if toolbox.settings.redis_url and getattr(toolbox.keystore, "namespace", None) is None:
        return f"{toolbox.settings.jobs.redis_namespace}:{HEARTBEAT_KEY}"
    return HEARTBEAT_KEY


class Heartbeat:
    """Writes the heartbeat now and then every interval from a daemon thread, until :meth:`stop`."""

    def __init__(self, toolbox: Toolbox, threads: int) -> None:
        self.toolbox = toolbox
        self.interval = toolbox.settings.jobs.worker_heartbeat_seconds
        self.value = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "threads": threads})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """Write the heartbeat once; an unreachable key store is logged, and tried again next beat."""
        value = json.loads(self.value) | {"at": datetime.now(UTC).isoformat(timespec="seconds")}
        try:
            self.toolbox.keystore.set(heartbeat_key(self.toolbox), json.dumps(value), 3 * self.interval)
        except Exception as exc:
            log.warning("worker heartbeat not written: %s: %s", type(exc).__name__, exc)

    def start(self) -> None:
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
        raw = toolbox.keystore.get(heartbeat_key(toolbox))
    except Exception as exc:
        return {"status": "missing", "error": type(exc).__name__}
    if raw is None:
        return {"status": "missing"}
    try:
        last = json.loads(raw)
    except ValueError:
        last = {}
    return {"status": "ok", "last_beat": last}

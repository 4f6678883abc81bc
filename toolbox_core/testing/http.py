"""Serve an ASGI app over real HTTP on loopback, in a background thread (for fakes and e2e tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class ServedApp:
    """An ASGI ``app`` listening on ``127.0.0.1`` at a free port until :meth:`stop`.

    ``url`` is the base URL (``http://127.0.0.1:PORT``). Uvicorn runs in a daemon thread with
    its own event loop, so the app is reached through real sockets exactly as a remote
    service would be.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", lifespan: str = "auto") -> None:
        config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan=lifespan,
                                access_log=False, loop="asyncio", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="served-app", daemon=True)
        self.host = host
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the served app did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serve_asgi(app: Any, **kwargs: Any) -> Iterator[str]:
    """``with serve_asgi(app) as url:`` — the app served on loopback for the block."""
    with ServedApp(app, **kwargs) as served:
        yield served.url

"""Test helpers for plugin tests: the store app on a given toolbox, and admin API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def store_app(toolbox: Any) -> Any:
    """The ASGI app on ``toolbox`` (to serve with ``serve_fake`` when a test needs real sockets)."""
    from toolbox_core.app import create_app

    return create_app(toolbox=toolbox)


@contextmanager
def store_client(toolbox: Any) -> Iterator[Any]:
    """``with store_client(toolbox) as client:`` — a ``TestClient`` of the app on ``toolbox`` (lifespan run)."""
    from fastapi.testclient import TestClient

    with TestClient(store_app(toolbox)) as client:
        yield client


def admin_key(toolbox: Any, *scopes: str) -> dict[str, str]:
    """A new admin API key with ``scopes``, as request headers (``Authorization: Bearer ...``)."""
    from toolbox_core.admin.auth import create_key

    _, plain = create_key(toolbox, "test", list(scopes))
    return {"Authorization": f"Bearer {plain}"}

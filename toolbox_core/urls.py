"""The public base URL of the API, for absolute links in responses (image URLs).

``public_base_url`` when configured; otherwise the address the current request came to, which
:class:`BaseUrlMiddleware` makes known to code that has no request at hand (storage backends).
Outside a request (CLI, workers) with nothing configured, links stay relative.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

_request_scope: ContextVar[Scope | None] = ContextVar("toolbox_request_scope", default=None)


class BaseUrlMiddleware:
    """Makes the current request's scope known to :func:`public_base_url` (one context variable)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _request_scope.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _request_scope.reset(token)


def public_base_url(settings: Any) -> str | None:
    """``settings.public_base_url``, else the current request's base URL (no trailing ``/``), else ``None``."""
    if settings.public_base_url:
        return settings.public_base_url
    scope = _request_scope.get()
    if scope is None:
        return None
    state = scope.setdefault("state", {})
    base = state.get("toolbox_base_url")
    if base is None:  # once per request: a page of products asks for every image
        base = state["toolbox_base_url"] = str(Request(scope).base_url).rstrip("/")
    return base


def absolute_url(settings: Any, url: str) -> str:
    """``url`` made absolute when it is a path (``/media/x.webp``) and a base URL is known."""
    if not url.startswith("/") or url.startswith("//"):
        return url
    base = public_base_url(settings)
    return f"{base}{url}" if base else url

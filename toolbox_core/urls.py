"""The public base URL of the API, for absolute links in responses (image URLs).

``public_base_url`` when configured; otherwise the address the current request came to, which
:class:`~toolbox_core.app.RequestMiddleware` makes known (:func:`set_request_scope`) to code
that has no request at hand (storage backends).
Outside a request (CLI, workers) with nothing configured, links stay relative.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from starlette.requests import Request
from starlette.types import Scope

_request_scope: ContextVar[Scope | None] = ContextVar("toolbox_request_scope", default=None)


def set_request_scope(scope: Scope) -> Token[Scope | None]:
    """Make ``scope`` the current request's (the app's request middleware calls it per request)."""
    return _request_scope.set(scope)


def reset_request_scope(token: Token[Scope | None]) -> None:
    """Undo :func:`set_request_scope` when the request is answered."""
    _request_scope.reset(token)


def in_request() -> bool:
    """True in code serving a request (on the event loop or in its worker thread), False in the
    relay, job and other background threads."""
    return _request_scope.get() is not None


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

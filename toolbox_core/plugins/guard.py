"""Providers are never called inside an open database transaction.

A provider may talk to the outside world (a payment gateway, an SMS API). Calling one while a
transaction holds row locks would stall every checkout behind a slow gateway, so the kernel
wraps each provider collected from a hook in :class:`ProviderGuard`, which refuses a method
call made while the calling thread is inside ``Database.transaction()``.
"""

from __future__ import annotations

import functools
from typing import Any

from toolbox_core.db.engine import in_transaction


class ProviderCalledInTransaction(RuntimeError):
    """A provider method was called inside an open database transaction (a kernel bug)."""


class ProviderGuard:
    """Transparent proxy over a provider: attributes pass through, method calls are checked."""

    __slots__ = ("_provider",)

    def __init__(self, provider: Any) -> None:
        object.__setattr__(self, "_provider", provider)

    @property
    def wrapped(self) -> Any:
        return self._provider

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._provider, name)
        if name.startswith("_") or not callable(value):
            return value

        @functools.wraps(value)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if in_transaction():
                owner = getattr(self._provider, "id", type(self._provider).__name__)
                raise ProviderCalledInTransaction(
                    f"provider {owner!r}.{name}() called inside an open database transaction; "
                    "commit first, then call the provider"
                )
            return value(*args, **kwargs)

        return guarded

    def __repr__(self) -> str:
        return f"ProviderGuard({self._provider!r})"

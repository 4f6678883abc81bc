"""Typed Eskiz errors: transient (try later) and permanent (will never work)."""

from __future__ import annotations


class EskizError(Exception):
    """A call to Eskiz failed. ``status`` is the HTTP status (``None``: no answer)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class EskizTransientError(EskizError):
    """Timeouts, connection errors, 5xx and 429: repeating later may work (``retry_after`` s)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class EskizPermanentError(EskizError):
    """The request will never succeed as is: text not approved, invalid number, no balance."""


class EskizAuthError(EskizPermanentError):
    """Login refused (wrong e-mail or API secret)."""

"""The ephemeral key store: short-lived sensitive state with atomic operations.

OTP code hashes, verification flags, rate-limit counters and gateway tokens live here, never in
process memory. Redis (Lua scripts) in production, the database in embedded mode; both pass the
same test suite. Keys are plain strings; callers prefix them by domain (``otp:code:+998901234567``)
and the Redis store puts every key under the configured ``jobs.redis_namespace``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

from toolbox_core.errors import ServiceUnavailable


class VerifyOutcome(StrEnum):
    """Result of :meth:`KeyStore.verify_and_consume`."""

    OK = "ok"                  # matched: the key is consumed (deleted)
    MISMATCH = "mismatch"      # wrong value; one attempt used
    EXHAUSTED = "exhausted"    # too many wrong attempts: the key is dead (deleted)
    MISSING = "missing"        # no such key (never set, expired or consumed)


@dataclass(frozen=True)
class WindowHit:
    """A rate-limit counter after one hit: ``count`` in the current window, seconds until it resets."""

    count: int
    reset_in: int
    #: Milliseconds until the window resets (``reset_in`` rounded up to whole seconds).
    reset_in_ms: int = 0
    #: Whether the hit was counted: always for :meth:`KeyStore.hit`; for
    #: :meth:`KeyStore.hit_within`, ``False`` when it would have gone over the limit.
    admitted: bool = True


class KeyStoreUnavailable(ServiceUnavailable):
    """The backing store cannot be reached. The API answers 503; there is no fallback to memory.

    It is a :class:`~toolbox_core.errors.ServiceUnavailable`, so the app renders it as
    ``503 service_unavailable`` wherever it escapes a route.
    """

    def __init__(self, message: str = "the key store (Redis) is unreachable; try again shortly", **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]


class KeyStore(ABC):
    """Atomic operations on short-lived values. Every method is atomic across processes."""

    @abstractmethod
    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``, replacing any previous value and attempts."""

    @abstractmethod
    def get(self, key: str) -> str | None:
        """The live value of ``key``, or ``None``."""

    @abstractmethod
    def ttl(self, key: str) -> int | None:
        """Seconds left before ``key`` expires, or ``None`` when it does not exist."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it existed."""

    @abstractmethod
    def set_if_absent(self, key: str, value: str, ttl_seconds: int) -> bool:
        """Store only if ``key`` has no live value; ``True`` if stored (a lock or a once-only marker)."""

    @abstractmethod
    def consume(self, key: str) -> str | None:
        """Atomically read and delete ``key``: exactly one concurrent caller gets the value."""

    @abstractmethod
    def compare_and_consume(self, key: str, expected: str) -> bool:
        """Delete ``key`` and return ``True`` only if its value equals ``expected``; one caller wins."""

    @abstractmethod
    def verify_and_consume(self, key: str, candidate: str, max_attempts: int) -> VerifyOutcome:
        """Check ``candidate`` against ``key``'s value, counting wrong attempts.

        A match consumes the key (``OK``). A mismatch counts one attempt (``MISMATCH``); the
        ``max_attempts``-th wrong attempt deletes the key (``EXHAUSTED``). The comparison is
        constant-time. One code, however many concurrent guesses, gets at most
        ``max_attempts`` checks.
        """

    @abstractmethod
    def hit(self, key: str, window_seconds: float, amount: int = 1) -> WindowHit:
        """Count ``amount`` units in a fixed window starting at the first hit; returns the new count.

        ``amount`` > 1 is a weighted hit (a request that costs several units of a rate budget).
        """

    @abstractmethod
    def hit_within(self, key: str, window_seconds: float, limit: int, amount: int = 1) -> WindowHit:
        """Like :meth:`hit`, but count ``amount`` only if the window's count stays at most ``limit``.

        The check and the count are one atomic step: however many callers race, at most
        ``limit`` units are admitted per window. A refused hit counts nothing and has
        ``admitted=False`` with the window's current count and reset. Use it to reserve a
        unit before the work it limits; :meth:`give_back` returns one that should not count.
        """

    @abstractmethod
    def window(self, key: str) -> WindowHit | None:
        """The live window of ``key`` (its count and reset) without counting anything; ``None``
        when there is none (never hit, or ended)."""

    @abstractmethod
    def give_back(self, key: str, amount: int = 1) -> int | None:
        """Uncount ``amount`` units of ``key``'s live window (never below 0, the reset unchanged).

        Returns the new count, or ``None`` (nothing done) when the window has ended.
        """

    @abstractmethod
    def renew(self, key: str, value: str, ttl_seconds: float) -> bool:
        """Reset ``key``'s expiry to ``ttl_seconds`` only if its live value equals ``value``.

        ``True`` if renewed. With :meth:`set_if_absent` (acquire) and :meth:`compare_and_consume`
        (release) this makes a lease that only its holder can extend or give back.
        """

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`KeyStoreUnavailable` if the backing store is unreachable."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections (the Redis client); the database store shares the kernel's engine."""

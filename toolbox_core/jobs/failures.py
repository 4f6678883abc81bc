"""How a job or an event subscriber says that a failure is final, or that it should wait.

Raise these from a ``JobSpec.func`` or a ``Subscriber.handler``:

* :class:`PermanentFailure` — it will never work (a text the SMS gateway refuses, an invalid
  number): no retry; the delivery is parked as failed at once with the reason.
* :class:`RetryLater` — not now (a gateway's 429 with ``Retry-After``, a timeout, a 5xx): run
  again after ``after`` seconds (the normal backoff when ``None``).

Any other exception is a crash and is retried with capped exponential backoff until the retry
budget is spent.
"""

from __future__ import annotations


class PermanentFailure(Exception):
    """The job failed for good; do not retry. ``reason`` is recorded (never put secrets in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(Exception):
    """Try again later: after ``after`` seconds, or on the normal backoff when ``after`` is None."""

    def __init__(self, reason: str = "retry later", *, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after

    @property
    def delay_ms(self) -> int | None:
        """``after`` in whole milliseconds (negative counts as 0); ``None``: the normal backoff."""
        return None if self.after is None else int(max(0.0, self.after) * 1000)

"""Test doubles that record what the kernel asks of them: a notification channel and an OTP sender."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from toolbox_core.providers import Notification


@dataclass
class RecordingChannel:
    """A :class:`~toolbox_core.api.NotificationChannel` that keeps what it is asked to send.

    ``sent`` holds every delivered :class:`Notification` in order; a notification whose
    ``idempotency_key`` was already delivered is not delivered again (as a real channel must
    behave). ``fail_with`` makes the next sends raise that exception (e.g. ``RetryLater()``).
    Thread-safe: in-process workers may send from several threads.
    """

    id: str = "recording"
    kind: str = "sms"
    sent: list[Notification] = field(default_factory=list)
    fail_with: BaseException | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, notification: Notification) -> str | None:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            key = notification.idempotency_key
            if key is not None and any(n.idempotency_key == key for n in self.sent):
                return None
            self.sent.append(notification)
            return f"{self.id}-{len(self.sent)}"

    def to(self, recipient: str) -> list[Notification]:
        """What was sent to ``recipient``."""
        return [n for n in self.sent if n.to == recipient]

    def delivered(self, idempotency_key: str) -> int:
        """How many times the notification with ``idempotency_key`` was delivered (0 or 1)."""
        return sum(n.idempotency_key == idempotency_key for n in self.sent)

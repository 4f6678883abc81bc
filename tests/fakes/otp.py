"""A recording OTP sender, registered as a plugin object (id ``recording``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolbox_core.plugins import hookimpl


@dataclass
class SentSms:
    phone: str
    text: str
    locale: str
    ttl: int = 0

    @property
    def code(self) -> str:
        return re.search(r"\b(\d{6})\b", self.text).group(1)  # type: ignore[union-attr]


@dataclass
class RecordingSender:
    """Keeps every message; ``fail_with`` makes the next sends raise."""

    id: str = "recording"
    sent: list[SentSms] = field(default_factory=list)
    fail_with: Exception | None = None
    #: Called with the phone before each send (to observe the caller's state).
    on_send: Callable[[str], None] | None = None

    #: The toolbox whose templates write the text (set by the plugin object's hook).
    toolbox: Any = None

    def send_code(self, phone: str, code: str, ttl: int, locale: str) -> None:
        from toolbox_core.customers.otp import otp_text

        if self.on_send is not None:
            self.on_send(phone)
        if self.fail_with is not None:
            raise self.fail_with
        text = otp_text(self.toolbox, code, ttl, locale) if self.toolbox is not None else code
        self.sent.append(SentSms(phone, text, locale, ttl))

    def last_code(self, phone: str) -> str:
        """The code last sent to ``phone`` (any format)."""
        from toolbox_core.customers.phone import normalize_phone

        return [s for s in self.sent if s.phone == normalize_phone(phone)][-1].code


class RecordingSenderPlugin:
    """The plugin object: ``toolbox.plugins.pm.register(RecordingSenderPlugin(sender), name=...)``."""

    def __init__(self, sender: RecordingSender) -> None:
        self.sender = sender

    @hookimpl
    def otp_senders(self, toolbox: Any) -> list[Any]:
        self.sender.toolbox = toolbox
        return [self.sender]

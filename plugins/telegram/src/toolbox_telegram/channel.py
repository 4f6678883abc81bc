"""The ``telegram`` notification channel: posts a notification's text to a Telegram chat.

Idempotent on ``Notification.idempotency_key`` through the kernel's key store (shared by all
processes): a redelivered event or a retried job does not post twice. The one case Telegram
cannot rule out is a request that reached it but whose answer was lost (a timeout): it is
retried, so a message may then appear twice — the Bot API has no idempotency key.
"""

from __future__ import annotations

import re

from toolbox_core.api import KeyStore, Notification, RetryLater
from toolbox_telegram.client import TelegramClient
from toolbox_telegram.messages import MAX_TEXT
from toolbox_telegram.settings import CHAT_ID_PATTERN, TelegramSettings

CLAIM_SECONDS = 120  # while one process posts, others wait for its outcome
SENT_SECONDS = 30 * 24 * 3600
CHAT_ID = re.compile(CHAT_ID_PATTERN)


class TelegramChannel:
    """``send`` posts ``notification.text`` to ``notification.to`` when it is a chat id
    (``-100...``, ``@channel``), otherwise to the configured staff chat."""

    id = "telegram"
    kind = "telegram"

    def __init__(self, settings: TelegramSettings, client: TelegramClient, keystore: KeyStore) -> None:
        self.settings = settings
        self.client = client
        self.keystore = keystore

    def chat_for(self, notification: Notification) -> str:
        return notification.to if CHAT_ID.match(notification.to or "") else self.settings.chat_id

    def send(self, notification: Notification) -> str | None:
        key = f"telegram:sent:{notification.idempotency_key}" if notification.idempotency_key else None
        if key:
            done = self.keystore.get(key)
            if done and done != "posting":
                return done  # posted before: its message id
            if not self.keystore.set_if_absent(key, "posting", CLAIM_SECONDS):
                raise RetryLater("another worker is posting this message", after=CLAIM_SECONDS / 4)
        try:
            message = self.client.call(
                "sendMessage", chat_id=self.chat_for(notification), text=notification.text[:MAX_TEXT],
                disable_notification=self.settings.silent, link_preview_options={"is_disabled": True},
            )
        except BaseException:
            if key:
                self.keystore.delete(key)  # not posted: a retry may post it
            raise
        message_id = str(message.get("message_id")) if isinstance(message, dict) else None
        if key:
            self.keystore.set(key, message_id or "posted", SENT_SECONDS)
        return message_id

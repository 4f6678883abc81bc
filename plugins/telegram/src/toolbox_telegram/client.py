"""A minimal Bot API client: one method call, failures mapped to the kernel's exceptions.

The token is part of the URL (``/bot<token>/<method>``), so neither the URL nor an httpx error
text is ever put in a message or a log: failures name the method and Telegram's description.
"""

from __future__ import annotations

from typing import Any

import httpx

from toolbox_core.api import PermanentFailure, RetryLater
from toolbox_telegram.settings import TelegramSettings


class TelegramClient:
    """Calls Bot API methods; thread-safe (one pooled ``httpx.Client``)."""

    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        self.http = httpx.Client(timeout=settings.timeout_seconds)

    def call(self, method: str, **params: Any) -> Any:
        """``result`` of a successful call. Raises ``RetryLater`` (network, 429, 5xx) or
        ``PermanentFailure`` (Telegram refused: bad token, unknown chat, bot not in the chat)."""
        token = self.settings.bot_token.get_secret_value()
        try:
            response = self.http.post(f"{self.settings.api_url}/bot{token}/{method}", json=params)
        except httpx.TimeoutException:
            raise RetryLater(f"Telegram {method} timed out") from None
        except httpx.TransportError as exc:
            raise RetryLater(f"Telegram is unreachable ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 200 and body.get("ok") is True:
            return body.get("result")
        description = str(body.get("description") or f"HTTP {response.status_code}")[:300]
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        if response.status_code == 429:
            after = parameters.get("retry_after") or response.headers.get("Retry-After")
            raise RetryLater(f"Telegram {method}: {description}",
                             after=float(after) if str(after or "").isdigit() else None)
        if response.status_code >= 500:
            raise RetryLater(f"Telegram {method}: {description}")
        if "migrate_to_chat_id" in parameters:
            raise PermanentFailure(
                f"the staff chat became a supergroup: set TOOLBOX_TELEGRAM__CHAT_ID={parameters['migrate_to_chat_id']}")
        if response.status_code == 401:
            raise PermanentFailure(f"Telegram {method}: the bot token is not valid (check TOOLBOX_TELEGRAM__BOT_TOKEN)")
        raise PermanentFailure(f"Telegram {method}: {description}")

    def close(self) -> None:
        self.http.close()

"""Settings: ``TOOLBOX_TELEGRAM__<FIELD>`` or the ``[telegram]`` table of toolbox.toml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

#: A chat the bot can post to: a numeric id (``-100...`` for supergroups) or ``@channelusername``.
CHAT_ID_PATTERN = r"^(-?\d+|@[A-Za-z][A-Za-z0-9_]{3,31})$"


class TelegramSettings(BaseModel):
    """The bot that posts, and the staff chat it posts to."""

    #: From @BotFather: ``123456789:AA...``. A secret: it is never logged or shown.
    bot_token: SecretStr
    #: The staff chat: a numeric id (groups are negative, ``-100...`` for supergroups) or
    #: ``@channelusername``. Add the bot to the group first.
    chat_id: str = Field(min_length=2, max_length=64, pattern=CHAT_ID_PATTERN)
    #: Language of the messages; unset: the shop's ``default_locale``.
    locale: Literal["ru", "uz"] | None = None
    #: Post silently (no sound in the staff's Telegram apps).
    silent: bool = False
    api_url: str = Field("https://api.telegram.org", pattern=r"^https?://")
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        bot_id, _, secret = token.partition(":")
        if not (bot_id.isdigit() and len(secret) >= 20 and all(c.isalnum() or c in "_-" for c in secret)):
            raise ValueError("a bot token looks like 123456789:AAE... (from @BotFather)")
        return value

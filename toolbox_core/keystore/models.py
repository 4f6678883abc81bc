"""The ``keystore_entries`` table: the key store of the embedded mode (no Redis)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from toolbox_core.db.base import Base


class KeystoreEntry(Base):
    """One short-lived value. ``expires_at`` is milliseconds since the epoch (UTC).

    ``attempts`` counts wrong guesses of a verified value, or the hits of a rate-limit window.
    Expired rows are invisible to every operation and removed lazily.
    """

    __tablename__ = "keystore_entries"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)

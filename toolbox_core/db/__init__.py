"""Database access: the declarative base, engines, sessions and migrations."""

from toolbox_core.db.base import Base, TimestampMixin, utcnow
from toolbox_core.db.engine import Database

__all__ = ["Base", "Database", "TimestampMixin", "utcnow"]

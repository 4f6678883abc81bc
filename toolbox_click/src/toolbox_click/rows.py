"""The callbacks' own statements on ``click_transactions``, in SQLAlchemy Core.

Each is built once (per dialect) and run on the callback's connection, inside its transaction:
one statement where the ORM needs a locking read and a flush, and no ORM object to track.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from toolbox_click.models import ClickTransaction
from toolbox_core.api import utcnow

TABLE = ClickTransaction.__table__


@cache
def _insert_prepared(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(TABLE).on_conflict_do_nothing(index_elements=[TABLE.c.click_trans_id])
            .returning(TABLE.c.id))


#: Confirm the named attempt when it is ours, matches and is still ``prepared``; locks the row.
CONFIRM = (update(TABLE)
           .where(TABLE.c.id == bindparam("row_id"), TABLE.c.click_trans_id == bindparam("trans"),
                  TABLE.c.order_id == bindparam("order"), TABLE.c.amount == bindparam("expected"),
                  TABLE.c.status == "prepared")
           .values(status="confirmed", confirmed_at=bindparam("now"))
           .returning(TABLE.c.id))

REVERSAL_PENDING = update(TABLE).where(TABLE.c.id == bindparam("row_id")).values(reversal_status="pending")


def insert_prepared(session: Session, **values: Any) -> int | None:
    """Insert a ``prepared`` attempt; its id, or ``None`` when ``click_trans_id`` has a row already
    (on PostgreSQL a concurrent insert of the same id is waited for, never an error)."""
    connection = session.connection()
    statement = _insert_prepared(connection.dialect.name)
    return connection.execute(statement, {**values, "status": "prepared"}).scalar()  # type: ignore[no-any-return]


def confirm_prepared(session: Session, row_id: int | None, *, click_trans_id: int, order_id: str,
                     amount: int) -> bool:
    """``prepared`` → ``confirmed`` for attempt ``row_id`` of ``click_trans_id`` on ``order_id`` for
    ``amount``; ``False`` (nothing changed) when the row is not that."""
    if row_id is None:
        return False
    found = session.connection().execute(CONFIRM, {"row_id": row_id, "trans": click_trans_id, "order": order_id,
                                                   "expected": amount, "now": utcnow()}).scalar()
    return found is not None


def mark_reversal_pending(session: Session, row_id: int) -> None:
    """The money must go back through the Merchant API (captured after the order was canceled)."""
    session.connection().execute(REVERSAL_PENDING, {"row_id": row_id})

"""The callbacks' own statements on ``click_transactions``, in SQLAlchemy Core.

Each is built once and run on the callback's connection, inside its transaction; no ORM object
is loaded or tracked. On PostgreSQL the writes of a Prepare or a Complete that reports to the
kernel travel inside the kernel's one statement (``also=``); see :mod:`toolbox_click.shop`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.engine import Connection

from toolbox_click.models import ClickTransaction
from toolbox_core.api import GatewayQuery

TABLE = ClickTransaction.__table__
#: The columns a Prepare writes (the others stay NULL until a Complete or a reversal).
_PREPARED_COLUMNS = ("click_trans_id", "click_paydoc_id", "service_id", "merchant_trans_id", "order_id",
                     "payment_id", "amount", "status", "sign_time", "created_at", "updated_at")


def _binds(columns: tuple[str, ...]) -> dict[str, Any]:
    return {key: bindparam(f"c_{key}", type_=TABLE.c[key].type) for key in columns}


#: A ``prepared`` attempt, its id (our ``merchant_prepare_id``) chosen by the database and returned.
INSERT_RETURNING = insert(TABLE).values(_binds(_PREPARED_COLUMNS)).returning(TABLE.c.id)

#: Our attempt ``c_row`` becomes ``confirmed``. It is ``prepared`` when the callback read it
#: (with the payment locked, which every change of a prepared attempt holds); should it not be
#: any more, the status becomes NULL, which the column refuses: the whole callback (the capture
#: in the same statement included) is rolled back, and answered again from the row as it is.
CONFIRM = (update(TABLE).where(TABLE.c.id == bindparam("c_row"))
           .values(status=case((TABLE.c.status == "prepared", "confirmed")),
                   confirmed_at=bindparam("c_now", type_=TABLE.c.confirmed_at.type),
                   updated_at=bindparam("c_now", type_=TABLE.c.updated_at.type),
                   reversal_status=bindparam("c_reversal", type_=TABLE.c.reversal_status.type)))

#: Click's error on attempt ``c_row``; a ``prepared`` one becomes ``cancelled`` (at ``c_now``).
FAIL = (update(TABLE).where(TABLE.c.id == bindparam("c_row"))
        .values(click_error=bindparam("c_error", type_=TABLE.c.click_error.type),
                click_error_note=bindparam("c_note", type_=TABLE.c.click_error_note.type),
                status=case((TABLE.c.status == "prepared", "cancelled"), else_=TABLE.c.status),
                cancelled_at=case((TABLE.c.status == "prepared", bindparam("c_now", type_=TABLE.c.cancelled_at.type)),
                                  else_=TABLE.c.cancelled_at),
                updated_at=bindparam("c_now", type_=TABLE.c.updated_at.type)))

REVERSAL = update(TABLE).where(TABLE.c.id == bindparam("c_row")).values(
    reversal_status=bindparam("c_reversal", type_=TABLE.c.reversal_status.type))

_OTHER = TABLE.alias("click_other")
#: Another live attempt (prepared or confirmed) of the order of the attempt read.
OTHERS_LIVE = (select(_OTHER.c.id).where(_OTHER.c.order_id == TABLE.c.order_id, _OTHER.c.id != TABLE.c.id,
                                         _OTHER.c.status.in_(("prepared", "confirmed")))
               .limit(1).correlate(TABLE).scalar_subquery())

_BY_TRANS = TABLE.c.click_trans_id == bindparam("c_trans")
_BY_ROW = TABLE.c.id == bindparam("c_row")
#: The columns of our attempt a callback decides on (every column read costs, on every call).
_DECIDES = ("id", "click_trans_id", "order_id", "amount", "status")
#: What a Prepare reads with the order and payment (named by ``merchant_trans_id``), in ONE
#: statement that locks the payment and the order: our attempt of ``click_trans_id`` if it exists
#: (of whichever order) and the kernel's earlier authorization of it.
PREPARE = GatewayQuery(own=TABLE, own_where=_BY_TRANS, own_columns=_DECIDES, report="authorize")
#: What a Complete reads: our attempt ``merchant_prepare_id`` (of whichever order) and the
#: kernel's earlier capture of ``click_trans_id``.
COMPLETE = GatewayQuery(own=TABLE, own_where=_BY_ROW, own_columns=_DECIDES, report="capture")
#: A Complete with ``error < 0``: our attempt, and whether its order has another live one.
FAILED = GatewayQuery(own=TABLE, own_where=_BY_ROW, own_columns=_DECIDES, values={"others": OTHERS_LIVE})


def prepared_values(*, now: datetime, **values: Any) -> dict[str, Any]:
    """The parameters of :data:`INSERT_RETURNING` for a ``prepared`` attempt of ``values``."""
    row = {**values, "status": "prepared", "created_at": now, "updated_at": now}
    return {f"c_{key}": value for key, value in row.items()}


def insert_prepared(connection: Connection, params: dict[str, Any]) -> int:
    """Insert a ``prepared`` attempt on its own; its id (a duplicate ``click_trans_id`` raises)."""
    return int(connection.execute(INSERT_RETURNING, params).scalar_one())

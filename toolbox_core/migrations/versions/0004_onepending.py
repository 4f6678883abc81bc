"""onepending: at most one pending payment per cart (a partial unique index)

The cart reads its payment session as one row and changing the provider switches that row, so
a cart never has two pending payments; the database now refuses a second one too.

Revision ID: 0004_onepending
Revises: 0003_catalogperf
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_onepending"
down_revision = "0003_catalogperf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_payments_pending_cart", "payments", ["cart_id"], unique=True,
                    postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("uq_payments_pending_cart", table_name="payments")

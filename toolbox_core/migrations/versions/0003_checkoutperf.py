"""checkoutperf: order numbers from a PostgreSQL sequence (no counter row every checkout waits for)

Revision ID: 0003_checkoutperf
Revises: 0003_shapes

The sequence continues where the ``order_number`` counter row stopped. SQLite keeps the counter
row (its writers are serialized anyway). See ``toolbox_core.orders.service.ORDER_NUMBER_SEQUENCE``.
"""
from __future__ import annotations

from alembic import op

revision = "0003_checkoutperf"
down_revision = "0003_shapes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE IF NOT EXISTS order_numbers AS bigint MINVALUE 1 START WITH 1001")
    # The next number follows the last one drawn from the counter (1001 on a new database).
    op.execute("SELECT setval('order_numbers', GREATEST(1000, COALESCE("
               "(SELECT value FROM counters WHERE name = 'order_number'), 1000)), true)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Hand the position back to the counter row, so numbering continues without reuse.
    op.execute("INSERT INTO counters (name, value) SELECT 'order_number', last_value FROM order_numbers "
               "WHERE is_called ON CONFLICT (name) DO UPDATE SET value = GREATEST(counters.value, EXCLUDED.value)")
    op.execute("DROP SEQUENCE IF EXISTS order_numbers")

"""inventory: when a reservation was settled (recent sales an inventory source may not know)

Revision ID: 0002_inventory
Revises: 0002_shipments
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_inventory"
down_revision = "0002_shipments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_inventory_reservations_sku_settled", ["sku", "settled_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inventory_reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_reservations_sku_settled")
        batch_op.drop_column("settled_at")

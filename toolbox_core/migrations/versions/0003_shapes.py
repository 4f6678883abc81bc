"""shapes: a saved customer address has the one public address shape (street optional, postal
and carrier-neutral region/city codes), so a cart address saves and comes back unchanged

Revision ID: 0003_shapes
Revises: 0003_signin
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0003_shapes'
down_revision = "0003_signin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customer_addresses') as batch:
        batch.alter_column('street', existing_type=sa.String(length=300), nullable=True)
        batch.add_column(sa.Column('postal_code', sa.String(length=12), nullable=True))
        batch.add_column(sa.Column('region_code', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('city_code', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('customer_addresses') as batch:
        batch.drop_column('city_code')
        batch.drop_column('region_code')
        batch.drop_column('postal_code')
        batch.alter_column('street', existing_type=sa.String(length=300), nullable=False)

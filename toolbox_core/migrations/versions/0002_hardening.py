"""hardening: admin API keys get an optional expiry and a last-used time

Revision ID: 0002_hardening
Revises: 0001
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0002_hardening'
down_revision = "0002_inventory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('admin_api_keys') as batch:
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('admin_api_keys') as batch:
        batch.drop_column('last_used_at')
        batch.drop_column('expires_at')

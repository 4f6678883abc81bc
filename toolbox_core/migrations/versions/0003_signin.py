"""signin: indexes for the clean-up job (expired sessions, long-expired carts)

Revision ID: 0003_signin
Revises: 0002_hardening
"""
from __future__ import annotations

from alembic import op

revision = "0003_signin"
down_revision = "0002_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customer_sessions_expires_at", "customer_sessions", ["expires_at"])
    op.create_index("ix_carts_expires_at", "carts", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_carts_expires_at", table_name="carts")
    op.drop_index("ix_customer_sessions_expires_at", table_name="customer_sessions")

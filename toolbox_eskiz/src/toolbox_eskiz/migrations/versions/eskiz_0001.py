"""Eskiz plugin: eskiz_messages (one row per SMS and its delivery status).

Revision ID: eskiz_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "eskiz_0001"
down_revision = None
branch_labels = ("eskiz",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eskiz_messages",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("template", sa.String(100), nullable=True),
        sa.Column("locale", sa.String(10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("gateway_status", sa.String(40), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("eskiz_message_id", sa.String(64), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_eskiz_messages_phone", "eskiz_messages", ["phone"])
    op.create_index("ix_eskiz_messages_status", "eskiz_messages", ["status"])
    op.create_index("ix_eskiz_messages_request_id", "eskiz_messages", ["request_id"])
    op.create_index("ix_eskiz_messages_created", "eskiz_messages", ["created_at"])


def downgrade() -> None:
    op.drop_table("eskiz_messages")

"""Payme transactions and the kassa key changed by ChangePassword.

Revision ID: payme_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "payme_0001"
down_revision = None
branch_labels = ("payme",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payme_transactions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payme_id", sa.String(length=64), nullable=False),
        sa.Column("payme_time", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.JSON(), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.SmallInteger(), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("perform_time", sa.BigInteger(), nullable=False),
        sa.Column("cancel_time", sa.BigInteger(), nullable=False),
        sa.Column("fiscal_perform", sa.JSON(), nullable=True),
        sa.Column("fiscal_cancel", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payme_transactions")),
        sa.UniqueConstraint("payme_id", name=op.f("uq_payme_transactions_payme_id")),
    )
    with op.batch_alter_table("payme_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payme_transactions_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payme_transactions_payme_time"), ["payme_time"], unique=False)
        batch_op.create_index("uq_payme_transactions_open_order", ["order_id"], unique=True,
                              postgresql_where=sa.text("state = 1"), sqlite_where=sa.text("state = 1"))
    op.create_table(
        "payme_credentials",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_payme_credentials")),
    )


def downgrade() -> None:
    op.drop_table("payme_credentials")
    with op.batch_alter_table("payme_transactions", schema=None) as batch_op:
        batch_op.drop_index("uq_payme_transactions_open_order")
        batch_op.drop_index(batch_op.f("ix_payme_transactions_payme_time"))
        batch_op.drop_index(batch_op.f("ix_payme_transactions_order_id"))
    op.drop_table("payme_transactions")

"""Click plugin: click_transactions and click_invoices.

Revision ID: click_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "click_0001"
down_revision = None
branch_labels = ("click",)
depends_on = None

ClickId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "click_transactions",
        sa.Column("id", ClickId, autoincrement=True, nullable=False),
        sa.Column("click_trans_id", sa.BigInteger(), nullable=False),
        sa.Column("click_paydoc_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_trans_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("click_error", sa.Integer(), nullable=True),
        sa.Column("click_error_note", sa.String(500), nullable=True),
        sa.Column("sign_time", sa.String(32), nullable=False),
        sa.Column("reversal_status", sa.String(16), nullable=True),
        sa.Column("reversal_note", sa.String(500), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_transactions")),
        sa.UniqueConstraint("click_trans_id", name=op.f("uq_click_transactions_click_trans_id")),
    )
    op.create_index("ix_click_transactions_order_id", "click_transactions", ["order_id"])
    op.create_index("ix_click_transactions_payment_id", "click_transactions", ["payment_id"])
    op.create_index("ix_click_transactions_status", "click_transactions", ["status"])
    op.create_index("ix_click_transactions_created_at", "click_transactions", ["created_at"])
    op.create_index("uq_click_transactions_confirmed_order", "click_transactions", ["order_id"], unique=True,
                    postgresql_where=sa.text("status = 'confirmed'"), sqlite_where=sa.text("status = 'confirmed'"))
    op.create_table(
        "click_invoices",
        sa.Column("id", ClickId, autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("merchant_trans_id", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_invoices")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_click_invoices_invoice_id")),
    )
    op.create_index("ix_click_invoices_order_id", "click_invoices", ["order_id"])


def downgrade() -> None:
    op.drop_table("click_invoices")
    op.drop_table("click_transactions")

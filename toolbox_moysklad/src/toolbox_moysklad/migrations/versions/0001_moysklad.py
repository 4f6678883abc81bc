"""moysklad: items linked to SKUs, sync runs with reports, received webhooks

Revision ID: moysklad_0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "moysklad_0001"
down_revision = None
branch_labels = ("moysklad",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "moysklad_items",
        sa.Column("assortment_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("figure", sa.Integer(), nullable=False),
        sa.Column("seen_run", sa.String(length=40), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("assortment_id", name=op.f("pk_moysklad_items")),
    )
    op.create_index("ix_moysklad_items_seen_run_sku", "moysklad_items", ["seen_run", "sku"], unique=False)
    op.create_index("ix_moysklad_items_seen_run_page", "moysklad_items", ["seen_run", "page"], unique=False)
    op.create_table(
        "moysklad_sync_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_href", sa.Text(), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moysklad_sync_runs")),
    )
    op.create_index("ix_moysklad_sync_runs_started", "moysklad_sync_runs", ["started_at"], unique=False)
    op.create_table(
        "moysklad_webhooks",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("report_url", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_moysklad_webhooks")),
    )


def downgrade() -> None:
    op.drop_table("moysklad_webhooks")
    op.drop_index("ix_moysklad_sync_runs_started", table_name="moysklad_sync_runs")
    op.drop_table("moysklad_sync_runs")
    op.drop_index("ix_moysklad_items_seen_run_page", table_name="moysklad_items")
    op.drop_index("ix_moysklad_items_seen_run_sku", table_name="moysklad_items")
    op.drop_table("moysklad_items")

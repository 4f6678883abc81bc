"""bts directory: regions, cities, branches

Revision ID: bts_0001
Revises:
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "bts_0001"
down_revision = None
branch_labels = ("bts",)
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _common() -> list[sa.Column]:
    return [
        sa.Column("names", _JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "bts_regions",
        sa.Column("code", sa.String(length=10), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_bts_regions")),
    )
    op.create_table(
        "bts_cities",
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("region_code", sa.String(length=10), nullable=False),
        sa.Column("has_branches", sa.Boolean(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_bts_cities")),
    )
    with op.batch_alter_table("bts_cities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bts_cities_region_code"), ["region_code"], unique=False)
    op.create_table(
        "bts_branches",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("region_code", sa.String(length=10), nullable=False),
        sa.Column("city_code", sa.String(length=10), nullable=False),
        sa.Column("addresses", _JSON, nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("working_hours", _JSON, nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_bts_branches")),
    )
    with op.batch_alter_table("bts_branches", schema=None) as batch_op:
        batch_op.create_index("ix_bts_branches_city_active", ["city_code", "active"], unique=False)


def downgrade() -> None:
    op.drop_table("bts_branches")
    op.drop_table("bts_cities")
    op.drop_table("bts_regions")

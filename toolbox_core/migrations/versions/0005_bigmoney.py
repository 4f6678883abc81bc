"""bigmoney: every amount of money (tiyin) is a 64-bit column on PostgreSQL

``integer`` stopped at 2 147 483 647 tiyin (21.5 million so'm): a variant priced above it, or an
order whose total passed it, failed to save. SQLite's ``INTEGER`` is 64-bit already, so only
PostgreSQL's columns change (``ALTER ... TYPE bigint`` rewrites each table once).

Revision ID: 0005_bigmoney
Revises: 0004_onepending
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_bigmoney"
down_revision = "0004_onepending"
branch_labels = None
depends_on = None

#: The money columns, by table.
MONEY = {
    "product_variants": ("price", "compare_at_price"),
    "orders": ("subtotal", "shipping_total", "discount_total", "total"),
    "order_items": ("unit_price", "total"),
    "payments": ("amount", "captured_amount", "refunded_amount"),
    "payment_transactions": ("amount",),
    "shipments": ("cod_amount",),
}


def _retype(new: sa.types.TypeEngine, old: sa.types.TypeEngine) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old)


def upgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())

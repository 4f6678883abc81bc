"""catalogperf: barcode index (exact code search) and search text with ё folded to е

Search text is normalized Latin (see ``catalog.search.text``); ``ё`` used to become ``yo``, so
"отвертка" missed "отвёртка". Normalization now folds ``ё`` and a ``yo`` after a consonant to
``e``; folding the stored text the same way equals re-normalizing it from the product names,
so existing databases need no ``toolbox search reindex`` for the database backend (Meilisearch
documents are rebuilt by ``toolbox search reindex``).

Revision ID: 0003_catalogperf
Revises: 0003_checkoutperf
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0003_catalogperf"
down_revision = "0003_checkoutperf"
branch_labels = None
depends_on = None

#: The fold as of this revision (a migration does not follow later changes of the code).
_YO = re.compile(r"(?<=[bcdfghjklmnpqrstvwxz])yo")
_BATCH = 1000


def upgrade() -> None:
    op.create_index("ix_product_variants_barcode", "product_variants", ["barcode"])
    bind = op.get_bind()
    entries = sa.table("catalog_search_entries", sa.column("product_id", sa.String), sa.column("text", sa.Text))
    rows = bind.execute(sa.select(entries.c.product_id, entries.c.text).where(entries.c.text.like("%yo%"))).all()
    changed = [{"pid": pid, "folded": _YO.sub("e", text)} for pid, text in rows if _YO.search(text)]
    update = sa.update(entries).where(entries.c.product_id == sa.bindparam("pid")).values(text=sa.bindparam("folded"))
    for start in range(0, len(changed), _BATCH):
        bind.execute(update, changed[start : start + _BATCH])
    if bind.dialect.name == "postgresql" and changed:
        # The typo expansion's word list learns the folded words (old ones are harmless).
        words = sorted({w for row in changed for w in row["folded"].split() if len(w) <= 100})
        insert = sa.text("INSERT INTO catalog_search_words (word) VALUES (:word) ON CONFLICT DO NOTHING")
        for start in range(0, len(words), _BATCH):
            bind.execute(insert, [{"word": w} for w in words[start : start + _BATCH]])


def downgrade() -> None:
    # The folded text stays; after a downgrade, `toolbox search reindex` re-renders it unfolded.
    op.drop_index("ix_product_variants_barcode", table_name="product_variants")

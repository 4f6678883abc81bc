"""Database objects the ORM does not model, created idempotently after Alembic.

* SQLite: an FTS5 table with the trigram tokenizer over ``catalog_search_entries`` (external
  content) and the triggers that keep it in sync.
* PostgreSQL: the ``pg_trgm`` extension, a GIN trigram index on the word list (typo'd query
  words are expanded to known words) and a generated ``tsvector`` column with a GIN index on the search text.

Autogenerate ignores them (:func:`is_unmodeled`), so ``python -m toolbox_core.db.autogen``
never proposes to drop them.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

FTS_TABLE = "catalog_search_fts"
TRGM_INDEX = "ix_catalog_search_trgm"
WORDS_INDEX = "ix_catalog_search_words_trgm"
TSV_INDEX = "ix_catalog_search_tsv"
TSV_COLUMN = "search_tsv"
TSV_COLUMN_INDEX = "ix_catalog_search_entries_tsv"

_SQLITE = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(
        text, content='catalog_search_entries', content_rowid='rowid', tokenize='trigram')""",
    f"""CREATE TRIGGER IF NOT EXISTS catalog_search_ai AFTER INSERT ON catalog_search_entries BEGIN
        INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.rowid, new.text); END""",
    f"""CREATE TRIGGER IF NOT EXISTS catalog_search_ad AFTER DELETE ON catalog_search_entries BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.rowid, old.text); END""",
    f"""CREATE TRIGGER IF NOT EXISTS catalog_search_au AFTER UPDATE ON catalog_search_entries BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.rowid, old.text);
        INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.rowid, new.text); END""",
]

_POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"DROP INDEX IF EXISTS {TRGM_INDEX}",
    # fastupdate off: a GIN pending list makes the planner skip the index until VACUUM.
    f"CREATE INDEX IF NOT EXISTS {WORDS_INDEX} ON catalog_search_words USING gin (word gin_trgm_ops) WITH (fastupdate = off)",
    f"ALTER INDEX {WORDS_INDEX} SET (fastupdate = off)",
    f"SELECT gin_clean_pending_list('{WORDS_INDEX}'::regclass)",
    f"DROP INDEX IF EXISTS {TSV_INDEX}",
    f"ALTER TABLE catalog_search_entries ADD COLUMN IF NOT EXISTS {TSV_COLUMN} tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED",
    f"CREATE INDEX IF NOT EXISTS {TSV_COLUMN_INDEX} ON catalog_search_entries USING gin ({TSV_COLUMN}) WITH (fastupdate = off)",
    f"ALTER INDEX {TSV_COLUMN_INDEX} SET (fastupdate = off)",
    f"SELECT gin_clean_pending_list('{TSV_COLUMN_INDEX}'::regclass)",
]


#: The published-products counter starts from the truth once, then moves with each write.
_COUNTER = (
    "INSERT INTO catalog_counters (name, value) "
    "SELECT 'published_products', count(*) FROM catalog_search_entries WHERE published "
    "ON CONFLICT (name) DO NOTHING"
)


def ensure_search_objects(engine: Engine) -> None:
    """Create the search objects and counters if missing (safe to run on every migrate)."""
    statements = _SQLITE if engine.dialect.name == "sqlite" else _POSTGRES
    with engine.begin() as conn:
        for statement in [*statements, _COUNTER]:
            conn.execute(text(statement))


def rebuild_sqlite_index(engine: Engine) -> None:
    """Rebuild the FTS5 index from its content table (after VACUUM or a bulk load)."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"))


def is_unmodeled(name: str | None, type_: str) -> bool:
    """True for the objects above, which Alembic's comparison must skip."""
    if not name:
        return False
    return name.startswith(FTS_TABLE) or name in (TRGM_INDEX, WORDS_INDEX, TSV_INDEX, TSV_COLUMN, TSV_COLUMN_INDEX) or name.startswith("catalog_search_a")

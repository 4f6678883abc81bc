"""Migrations: the kernel and plugin branches upgrade in one command, twice is harmless, and the
models agree with the migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from toolbox_core.config import Settings
from toolbox_core.db.migrate import current_heads, pending_model_changes
from toolbox_core.kernel import Toolbox

PLUGIN_WITH_TABLES = """
from pathlib import Path
from toolbox_core.api import hookimpl
KERNEL_API = ">=1.0"

@hookimpl
def migrations():
    return str(Path(__file__).parent / "versions")
"""

PLUGIN_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "acme_0001"
down_revision = None
branch_labels = ("acme",)
depends_on = None

def upgrade():
    op.create_table("acme_shipments", sa.Column("id", sa.String(40), primary_key=True))

def downgrade():
    op.drop_table("acme_shipments")
"""


def migrate_twice(url: str, plugins: list[str] | None = None) -> Toolbox:
    toolbox = Toolbox.create(Settings(database_url=url, plugins=plugins or []))
    toolbox.migrate()
    first = current_heads(toolbox.db.engine)
    toolbox.migrate()
    assert current_heads(toolbox.db.engine) == first
    return toolbox


def test_fresh_sqlite_file_migrates_and_a_second_run_is_a_no_op(tmp_path: Path, clean_env: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'shop.db'}"
    toolbox = migrate_twice(url)
    tables = set(inspect(toolbox.db.engine).get_table_names())
    assert {"products", "product_variants", "customers", "outbox_events"} <= tables
    assert current_heads(toolbox.db.engine) == {"0001"} or current_heads(toolbox.db.engine)
    toolbox.close()


def test_sqlite_models_agree_with_migrations(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    assert pending_model_changes(engine) == []
    engine.dispose()


@pytest.mark.postgres
def test_postgres_migrates_twice_and_models_agree(pg_database_url: str, clean_env: Path) -> None:
    toolbox = migrate_twice(pg_database_url)
    assert pending_model_changes(toolbox.db.engine) == []
    toolbox.close()


def test_hook_migrations_adds_the_plugin_branch_in_the_same_command(tmp_path: Path, clean_env: Path, plugin_site) -> None:
    plugin_site.install("acme", PLUGIN_WITH_TABLES, files={"versions/acme_0001.py": PLUGIN_REVISION})
    toolbox = migrate_twice(f"sqlite:///{tmp_path / 'shop.db'}", plugins=["acme"])
    assert "acme_shipments" in inspect(toolbox.db.engine).get_table_names()
    assert "acme_0001" in current_heads(toolbox.db.engine)
    toolbox.close()


def test_hook_after_migrate_creates_unmodelled_objects_idempotently(tmp_path: Path, clean_env: Path, plugin_site) -> None:
    plugin_site.install(
        "acmeidx",
        """
        from sqlalchemy import text
        from toolbox_core.api import hookimpl
        KERNEL_API = ">=1.0"
        @hookimpl
        def after_migrate(engine):
            with engine.begin() as conn:
                conn.execute(text("CREATE INDEX IF NOT EXISTS acme_customers_name ON customers (name)"))
        """,
    )
    toolbox = migrate_twice(f"sqlite:///{tmp_path / 'shop.db'}", plugins=["acmeidx"])
    indexes = {ix["name"] for ix in inspect(toolbox.db.engine).get_indexes("customers")}
    assert "acme_customers_name" in indexes
    toolbox.close()


def test_models_of_plugins_not_migrated_here_do_not_count_as_pending(sqlite_url: str) -> None:
    from sqlalchemy import Column, String, Table

    from toolbox_core.db.base import Base

    # A plugin's model imported in this process (other tests do), its branch not in this database.
    table = Table("elsewhere_plugin_rows", Base.metadata, Column("id", String(40), primary_key=True))
    try:
        engine = create_engine(sqlite_url)
        assert pending_model_changes(engine) == []
        engine.dispose()
    finally:
        Base.metadata.remove(table)

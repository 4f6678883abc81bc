"""The plugin's Alembic branch creates exactly what its models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import toolbox_bts.models  # noqa: F401  (registers the plugin's tables)
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from toolbox_core.api import Base


def _bts_differences(engine) -> list[object]:
    def include_name(name, type_, parent_names):
        return type_ != "table" or (name or "").startswith("bts_")

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        return [d for d in compare_metadata(ctx, Base.metadata) if "bts_" in repr(d)]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_bts_models_agree_with_the_bts_migrations(make_toolbox, bts_settings, database):
    toolbox = make_toolbox(plugins=["bts"], plugin_settings={"bts": bts_settings}, database=database)
    assert _bts_differences(toolbox.db.engine) == []

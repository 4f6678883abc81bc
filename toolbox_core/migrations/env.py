"""Alembic environment shared by the kernel and every plugin's version location."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import toolbox_core.models  # noqa: F401  (registers every kernel model on Base.metadata)
from toolbox_core.catalog.search.ddl import is_unmodeled
from toolbox_core.db.base import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=lambda name, type_, parent_names: not is_unmodeled(name, type_),
        # ``toolbox migrate revision --plugin NAME`` limits autogenerate to that plugin's tables.
        include_object=config.attributes.get("include_object"),
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()

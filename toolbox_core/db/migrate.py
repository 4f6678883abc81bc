"""Alembic, driven from code: the kernel's version location plus one per enabled plugin.

``toolbox migrate`` calls :func:`upgrade`, which upgrades every branch to its head in one go
and does nothing when the database is already current (safe to run twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
KERNEL_VERSIONS = MIGRATIONS_DIR / "versions"


def alembic_config(database_url: str, plugin_locations: Iterable[str | Path] = ()) -> Config:
    """An Alembic config for the kernel plus the given plugin version locations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    locations = [str(KERNEL_VERSIONS), *(str(Path(p)) for p in plugin_locations)]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, plugin_locations: Iterable[str | Path] = (),
            known_locations: Iterable[str | Path] = ()) -> None:
    """Upgrade the kernel and every given plugin location to their heads.

    ``known_locations`` are version folders Alembic must know but not upgrade: those of
    installed plugins that are disabled. Their revisions may be recorded in the database (the
    plugin was enabled once); without them Alembic cannot place the database and refuses to
    migrate, so disabling a plugin with tables would break ``migrate`` and ``serve``.
    """
    enabled = [Path(p).resolve() for p in plugin_locations]
    known = [p for p in (Path(k).resolve() for k in known_locations) if p not in enabled]
    cfg = alembic_config(engine.url.render_as_string(hide_password=False), [*enabled, *known])
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if not known:
            command.upgrade(cfg, "heads")
            return
        for target in _heads_outside(cfg, known):
            command.upgrade(cfg, target)


def _heads_outside(cfg: Config, folders: list[Path]) -> list[str]:
    """Head revisions whose files are not in ``folders`` (the branches to upgrade)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(cfg).get_revisions("heads")
    return sorted(rev.revision for rev in heads
                  if rev is not None and Path(rev.path).resolve().parent not in folders)


def current_heads(engine: Engine) -> set[str]:
    """The revisions the database is at."""
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def pending_model_changes(engine: Engine, tables: Iterable[str] | None = None) -> list[object]:
    """Differences between the models and the migrated database (empty when they agree).

    Only the kernel's tables are compared unless ``tables`` names others (a plugin's test passes
    its own), so a plugin imported earlier in the same process never shows up as a difference.
    """
    import toolbox_core.models  # noqa: F401
    from toolbox_core.catalog.search.ddl import is_unmodeled
    from toolbox_core.db.base import Base

    # Plugin models share ``Base.metadata`` once imported; their tables belong to the plugins'
    # branches, not to the kernel's migrations, so only kernel tables (and unknown ones) count,
    # unless ``tables`` names the ones to compare (a plugin's own).
    kernel_tables = {m.local_table.name for m in Base.registry.mappers
                     if m.class_.__module__.startswith("toolbox_core.")}
    wanted = set(tables) if tables is not None else None

    def skipped(name: str | None, type_: str) -> bool:
        if type_ != "table":
            return False
        if wanted is not None:
            return name not in wanted
        return name not in kernel_tables and name in Base.metadata.tables

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        return not skipped(name, type_) and not is_unmodeled(name, type_)

    def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        return not skipped(name, type_)

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name,
                                                     "include_object": include_object})
        return list(compare_metadata(ctx, Base.metadata))

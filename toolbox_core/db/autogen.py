"""Write a new migration from the difference between the models and the migrated head.

Kernel (developer tool)::

    python -m toolbox_core.db.autogen "add orders"

A plugin's branch (``toolbox migrate revision --plugin NAME -m "add refunds"``): the plugin
must be enabled (its models imported) and return its versions folder from the ``migrations``
hook. Only the plugin's own tables are compared, so kernel and other plugins' tables never
leak into its branch. The first revision gets ``branch_labels = ("<name>",)`` and
``down_revision = None``; later ones extend ``<name>@head``. Review it before committing.

Both upgrade a scratch SQLite database to the current heads and compare it with the models.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from toolbox_core.db.migrate import alembic_config, upgrade

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox


def main(message: str, rev_id: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'autogen.db'}"
        engine = create_engine(url)
        upgrade(engine)
        cfg = alembic_config(url)
        script = command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    _fix_rendering(script)


def plugin_revision(toolbox: Toolbox, plugin: str, message: str, rev_id: str | None = None) -> list[Path]:
    """Autogenerate a revision on plugin ``plugin``'s branch; returns the files written.

    Raises :class:`toolbox_core.plugins.PluginError` when the plugin is not enabled or has no
    ``migrations`` hook.
    """
    from toolbox_core.plugins import PluginError

    info = toolbox.plugins.plugins.get(plugin)
    if info is None or not info.enabled or info.builtin:
        raise PluginError(plugin, "is not an enabled plugin", "add it to TOOLBOX_PLUGINS (its models must be imported)")
    locations = dict(toolbox.plugins.call_each("migrations"))
    if plugin not in locations:
        raise PluginError(plugin, "has no migrations hook",
                          "return its Alembic versions folder from a `migrations` hook")
    folder = Path(locations[plugin]).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    tables = _plugin_tables(info.module.split(".")[0])
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'autogen.db'}"
        engine = create_engine(url)
        upgrade(engine, locations.values())
        cfg = alembic_config(url, locations.values())
        own = [rev for rev in ScriptDirectory.from_config(cfg).walk_revisions()
               if Path(rev.path).resolve().parent == folder]
        cfg.attributes["include_object"] = _only_tables(tables)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            script = command.revision(
                cfg, message=message, autogenerate=True, rev_id=rev_id, version_path=str(folder),
                head=f"{plugin}@head" if own else "base", branch_label=None if own else plugin,
            )
        engine.dispose()
    return _fix_rendering(script)


def _plugin_tables(package: str) -> set[str]:
    """Names of the tables mapped by models defined in ``package``."""
    from toolbox_core.db.base import Base

    return {mapper.local_table.name for mapper in Base.registry.mappers
            if mapper.class_.__module__.split(".")[0] == package and mapper.local_table is not None}


def _only_tables(tables: set[str]) -> Any:
    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            return name in tables
        table = getattr(obj, "table", None)
        return table is None or table.name in tables

    return include_object


def _fix_rendering(script: Any) -> list[Path]:
    written = []
    for rev in script if isinstance(script, list) else [script]:
        if rev is None:
            continue
        path = Path(rev.path)
        # Alembic renders JSONB's astext_type without the ``sa.`` prefix.
        path.write_text(path.read_text().replace("astext_type=Text()", "astext_type=sa.Text()"))
        written.append(path)
    return written


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)

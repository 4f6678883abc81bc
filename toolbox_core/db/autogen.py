"""Developer tool: write a new kernel migration from the difference between models and head.

    python -m toolbox_core.db.autogen "add orders"

It upgrades a scratch SQLite database to the current head, compares it with the models and
writes the revision into ``toolbox_core/migrations/versions``. Review it before committing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from toolbox_core.db.migrate import alembic_config, upgrade


def main(message: str, rev_id: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'autogen.db'}"
        engine = create_engine(url)
        upgrade(engine)
        cfg = alembic_config(url)
        script = command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    for rev in script if isinstance(script, list) else [script]:
        if rev is None:
            continue
        path = Path(rev.path)
        # Alembic renders JSONB's astext_type without the ``sa.`` prefix.
        path.write_text(path.read_text().replace("astext_type=Text()", "astext_type=sa.Text()"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)

"""Installs throw-away plugin distributions the way pip would: a package plus a ``.dist-info``
folder whose ``entry_points.txt`` declares it in the ``toolbox.plugins`` group.

The kernel then finds them through installed metadata exactly like a real plugin.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class FakeSite:
    """A folder on ``sys.path`` into which tests install plugin distributions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def install(self, name: str, source: str, *, version: str = "1.0.0", files: dict[str, str] | None = None) -> str:
        """Install plugin ``name`` (module ``toolbox_fake_<name>``) with ``source`` as its module code."""
        module = f"toolbox_fake_{name}"
        pkg = self.root / module
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(textwrap.dedent(source))
        for rel, text in (files or {}).items():
            path = pkg / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        dist = self.root / f"toolbox_fake_{name}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: toolbox-fake-{name}\nVersion: {version}\n")
        (dist / "entry_points.txt").write_text(f"[toolbox.plugins]\n{name} = {module}\n")
        self.modules.append(module)
        importlib.invalidate_caches()
        return module


@contextmanager
def fake_site(root: Path) -> Iterator[FakeSite]:
    """Put ``root`` on ``sys.path`` for the duration; forget imported fake modules afterwards."""
    site = FakeSite(root)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        sys.path.remove(str(root))
        for module in site.modules:
            for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
                del sys.modules[loaded]
        importlib.invalidate_caches()

"""Fixtures of the kernel's own test suite.

The shared fixtures (databases, Redis, settings, toolbox, client, ``make_toolbox``,
``serve_fake``) come from the test kit, :mod:`toolbox_core.testing`, a pytest plugin that
plugin authors use too. PostgreSQL and Redis are used over real connections; tests needing
them skip on a developer machine and FAIL when ``CI`` or ``TOOLBOX_TEST_REQUIRE_SERVICES`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def plugin_site(tmp_path: Path) -> Iterator[object]:
    """A fake site-packages folder: ``plugin_site.install(name, source)`` installs a plugin."""
    from tests.fakes.plugins import fake_site

    with fake_site(tmp_path / "site") as site:
        yield site

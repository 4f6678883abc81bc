"""The plugin guide and its generated reference stay true to the code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from toolbox_core.plugins.reference import hooks, reference_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_committed_reference_is_generated_from_the_hookspecs_and_protocols() -> None:
    committed = (DOCS / "plugin-reference.md").read_text()
    assert committed == reference_markdown(), "run: toolbox plugin reference > docs/plugin-reference.md"


def test_every_hook_is_documented_with_when_it_is_called_and_what_it_returns() -> None:
    found = hooks()
    assert len(found) >= 17
    for name, spec in found:
        doc = inspect.getdoc(spec) or ""
        assert "Called" in doc, f"{name}: say when the kernel calls it"
        assert "Return" in doc, f"{name}: say what it returns"


def test_the_guide_names_every_hook_and_covers_every_topic() -> None:
    guide = (DOCS / "plugins.md").read_text()
    for name, _ in hooks():
        assert f"`{name}`" in guide, f"the guide's hook table misses {name}"
    for topic in ("Concepts", "Hooks", "Provider interfaces", "Events", "Settings and secrets",
                  "Migrations", "Testing with the kit", "Publishing to a package index",
                  "Compatibility rules"):
        assert re.search(rf"^## \d+\. {topic}$", guide, re.M), topic
    for link in ("plugin-reference.md", "events.md"):
        assert (DOCS / link).is_file() and f"({link}" in guide


def test_the_guide_lists_every_fixture_of_the_kit() -> None:
    import toolbox_core.testing.plugin as kit

    guide = (DOCS / "plugins.md").read_text()
    fixtures = [name for name, obj in vars(kit).items() if not name.startswith("_")
                and (hasattr(obj, "_pytestfixturefunction") or type(obj).__name__ == "FixtureFunctionDefinition")]
    assert {"make_toolbox", "serve_fake", "capture_events", "start_worker", "make_client"} <= set(fixtures)
    internal = {"pg_database_url", "pg_migrated_url", "redis_clean", "clean_env"}
    missing = [name for name in fixtures if name not in internal and f"`{name}" not in guide]
    assert not missing, f"undocumented kit fixtures: {missing}"

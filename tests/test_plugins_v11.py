"""Plugin system, kernel API 1.1: hooks through pluggy, disabled plugins' migrations, plugin
revisions, and ``register_commands`` with a lazily built toolbox."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import inspect as sa_inspect

from tests.test_migrations import PLUGIN_REVISION
from toolbox_core.config import Settings
from toolbox_core.db.migrate import current_heads
from toolbox_core.kernel import Toolbox

TOOLBOX = str(Path(sys.executable).with_name("toolbox"))

#: tests/test_migrations.py's PLUGIN_WITH_TABLES, but with its revisions in ``migrations/versions``,
#: where a disabled plugin's version folder is looked for without importing it.
ACME = """
from pathlib import Path
from toolbox_core.api import hookimpl

KERNEL_API = ">=1.0,<2"

@hookimpl
def migrations():
    return str(Path(__file__).parent / "migrations" / "versions")
"""


def _tables(toolbox: Toolbox) -> set[str]:
    return set(sa_inspect(toolbox.db.engine).get_table_names())


def _run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_") or k.startswith("TOOLBOX_TEST_")}
    return subprocess.run([TOOLBOX, *args], cwd=cwd, env={**base, "COLUMNS": "200", **env},
                          capture_output=True, text=True, timeout=120)


# ------------------------------------------------------------------------------ migrations
def test_disabling_a_plugin_with_tables_keeps_migrate_working(tmp_path: Path, clean_env: Path, plugin_site: Any) -> None:
    plugin_site.install("acme", ACME, files={"migrations/versions/acme_0001.py": PLUGIN_REVISION})
    url = f"sqlite:///{tmp_path / 'store.db'}"
    enabled = Toolbox.create(Settings(database_url=url, plugins=["acme"]))
    enabled.migrate()
    assert "acme_shipments" in _tables(enabled)
    assert "acme_0001" in current_heads(enabled.db.engine)
    enabled.close()

    disabled = Toolbox.create(Settings(database_url=url, plugins=[]))
    disabled.migrate()  # was: Can't locate revision identified by 'acme_0001'
    disabled.migrate()
    assert "acme_0001" in current_heads(disabled.db.engine), "the plugin's tables and revision are kept"
    assert "acme_shipments" in _tables(disabled)
    disabled.close()


def test_an_installed_plugin_never_enabled_gets_no_tables(tmp_path: Path, clean_env: Path, plugin_site: Any) -> None:
    plugin_site.install("acme", ACME, files={"migrations/versions/acme_0001.py": PLUGIN_REVISION})
    toolbox = Toolbox.create(Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", plugins=[]))
    assert toolbox.disabled_migration_locations(), "its version folder is found without importing it"
    assert "toolbox_fake_acme" not in sys.modules
    toolbox.migrate()
    assert "acme_shipments" not in _tables(toolbox)
    assert not any(head.startswith("acme") for head in current_heads(toolbox.db.engine))
    toolbox.close()


BIN = """
from pathlib import Path
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from toolbox_core.api import Base, hookimpl

KERNEL_API = ">=1.1,<2"

class BinItem(Base):
    __tablename__ = "bin_items"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)

@hookimpl
def migrations():
    return str(Path(__file__).parent / "migrations" / "versions")
"""


def test_migrate_revision_for_a_plugin_writes_its_branch_only(tmp_path: Path, plugin_site: Any) -> None:
    module = plugin_site.install("bin", BIN, files={"migrations/versions/README": "revisions of bin\n"})
    versions = plugin_site.root / module / "migrations" / "versions"
    env = {"PYTHONPATH": str(plugin_site.root), "TOOLBOX_PLUGINS": "bin",
           "TOOLBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    result = _run("migrate", "revision", "--plugin", "bin", "-m", "create bin items", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    (written,) = versions.glob("*.py")
    text = written.read_text()
    assert "branch_labels = ('bin',)" in text
    assert "down_revision = None" in text
    assert "op.create_table('bin_items'" in text
    assert "products" not in text and "orders" not in text, "kernel tables must not leak into a plugin branch"

    assert _run("migrate", cwd=tmp_path, env=env).returncode == 0
    names = {row[0] for row in sqlite3.connect(tmp_path / "store.db").execute("SELECT name FROM sqlite_master")}
    assert "bin_items" in names


def test_migrate_revision_for_a_plugin_that_is_not_enabled_says_so(tmp_path: Path) -> None:
    result = _run("migrate", "revision", "--plugin", "payme", cwd=tmp_path,
                  env={"TOOLBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"})
    assert result.returncode == 1
    assert "'payme'" in result.stderr and "TOOLBOX_PLUGINS" in result.stderr


# ------------------------------------------------------------------------------ pluggy
WRAPPER = """
from toolbox_core.api import hookimpl

KERNEL_API = ">=1.0,<2"
SEEN = []

@hookimpl(wrapper=True)
def shipping_providers(toolbox):
    result = yield
    SEEN.extend(provider.id for items in result for provider in items)
    return result
"""


def test_hookwrappers_wrap_kernel_hook_calls(sqlite_url: str, clean_env: Path, plugin_site: Any) -> None:
    plugin_site.install("wrap", WRAPPER)
    toolbox = Toolbox.create(Settings(database_url=sqlite_url, plugins=["wrap"]))
    import toolbox_fake_wrap

    assert "pickup" in toolbox.shipping_providers
    assert list(toolbox.shipping_providers) == toolbox_fake_wrap.SEEN
    toolbox.close()


def test_pluggy_hook_call_monitoring_sees_kernel_calls(sqlite_url: str, clean_env: Path) -> None:
    toolbox = Toolbox.create(Settings(database_url=sqlite_url, plugins=[]), wire=False)
    calls: list[tuple[str, list[str]]] = []
    toolbox.plugins.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: calls.append((name, [i.plugin_name for i in impls])),
        lambda outcome, name, impls, kwargs: None)
    assert "cash_on_delivery" in toolbox.payment_providers
    assert ("payment_providers", ["core.payments"]) in calls
    toolbox.close()


def test_results_keep_their_plugin_and_registration_order(sqlite_url: str, clean_env: Path) -> None:
    toolbox = Toolbox.create(Settings(database_url=sqlite_url, plugins=["example"]))
    owners = [name for name, _ in toolbox.plugins.call_each("shipping_providers", toolbox=toolbox)]
    assert owners == ["core.shipping", "example"]
    toolbox.close()


def test_plugins_returning_the_same_object_keep_their_own_names(sqlite_url: str, clean_env: Path) -> None:
    from toolbox_core.api import hookimpl

    shared: list[Any] = []  # both plugins return this very object

    class Plugin:
        @hookimpl
        def doctor_checks(self, toolbox: Any) -> list[Any]:
            return shared

    toolbox = Toolbox.create(Settings(database_url=sqlite_url, plugins=[]), wire=False)
    toolbox.plugins.pm.register(Plugin(), name="first")
    toolbox.plugins.pm.register(Plugin(), name="second")
    owners = [name for name, _ in toolbox.plugins.call_each("doctor_checks", toolbox=toolbox)]
    assert [n for n in owners if n in ("first", "second")] == ["first", "second"]
    toolbox.close()


# ------------------------------------------------------------------------------ commands
COMMANDS = """
import typer
from toolbox_core.api import hookimpl

KERNEL_API = ">=1.1,<2"

@hookimpl
def register_commands(cli, toolbox):
    @cli.command("cmds-locale")
    def show() -> None:
        typer.echo(f"locale={toolbox.settings.default_locale} plugins={toolbox.settings.plugins}")
"""


def test_register_commands_gets_a_toolbox_built_only_when_a_command_runs(tmp_path: Path, plugin_site: Any) -> None:
    plugin_site.install("cmds", COMMANDS)
    env = {"PYTHONPATH": str(plugin_site.root), "TOOLBOX_PLUGINS": "cmds",
           # nothing listens there: --help must not need the database
           "TOOLBOX_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    helped = _run("--help", cwd=tmp_path, env=env)
    assert helped.returncode == 0, helped.stderr
    assert "cmds-locale" in helped.stdout
    ran = _run("cmds-locale", cwd=tmp_path, env={**env, "TOOLBOX_DEFAULT_LOCALE": "uz"})
    assert ran.returncode == 0, ran.stderr
    assert "locale=uz plugins=['cmds']" in ran.stdout


def test_the_telegram_example_is_installed_from_its_folder_not_editable() -> None:
    from toolbox_core.plugins import discover

    dist = discover()["telegram"].dist
    assert dist is not None and dist.metadata["Name"] == "toolbox-telegram"
    import json

    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    assert direct.get("dir_info", {}).get("editable") is not True
    assert "site-packages" in str(dist.locate_file("toolbox_telegram/plugin.py"))


NEEDS_TOKEN = """
from pydantic import BaseModel
from toolbox_core.api import hookimpl

KERNEL_API = ">=1.1,<2"

class Settings(BaseModel):
    api_token: str

@hookimpl
def settings_model():
    return Settings
"""


def test_cli_errors_print_toml_section_names_literally(tmp_path: Path, plugin_site: Any) -> None:
    """"[acme]" in an error used to vanish as Rich markup ("or the  section of toolbox.toml")."""
    plugin_site.install("acme", NEEDS_TOKEN)
    result = _run("migrate", cwd=tmp_path, env={"PYTHONPATH": str(plugin_site.root), "TOOLBOX_PLUGINS": "acme"})
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "TOOLBOX_ACME__API_TOKEN" in message and "the [acme] section of toolbox.toml" in message

"""The ``toolbox`` command line.

Kernel commands live here; domains and plugins add theirs through the ``register_commands``
hook (``toolbox catalog import``, ``toolbox admin keys``, ``toolbox events``, ...).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from toolbox_core import KERNEL_API_VERSION, __version__
from toolbox_core.cli.tables import Col, print_rows
from toolbox_core.config import ConfigError, explain, load_settings
from toolbox_core.plugins import PluginError, PluginManager

console = Console()
err = Console(stderr=True)

cli = typer.Typer(
    name="toolbox",
    help="Toolbox Commerce: run the store, migrate, manage plugins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    # Messages name TOML sections like "[payme]": print them literally, not as Rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def open_toolbox(*, serving: bool = False) -> Any:
    """Create the kernel for a command, turning configuration problems into a clear exit.

    ``serving`` (``serve``, ``worker``) also refuses settings unsafe outside the embedded mode.
    """
    from toolbox_core.kernel import Toolbox

    try:
        if serving:
            settings = load_settings()
            settings.check_safe_to_serve()
            return Toolbox.create(settings)
        return Toolbox.create()
    except (ConfigError, PluginError) as exc:
        raise _fail(str(exc)) from None


def _setup_logging() -> None:
    level = os.environ.get("TOOLBOX_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":  # third-party bookkeeping (migration set-up, scheduler jobs) only when debugging
        for noisy in ("alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


# ---------------------------------------------------------------------------- serve
@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Number of API processes")] = 1,
    migrate: Annotated[bool, typer.Option(help="Migrate the database before serving")] = True,
    demo: Annotated[bool, typer.Option(help="Load the demo catalog first if the store is empty")] = False,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
) -> None:
    """Migrate (by default) and serve the store and admin APIs."""
    import uvicorn

    toolbox = open_toolbox(serving=True)
    if migrate:
        toolbox.migrate()
    if demo:
        from toolbox_core.catalog.demo import load_demo_if_empty

        created = load_demo_if_empty(toolbox)
        if created:
            console.print(f"demo catalog loaded: {created} products")
        from toolbox_core.customers.plugin import demo_sign_in_hint

        console.print(demo_sign_in_hint(toolbox.settings), markup=False)
    console.print(f"Toolbox Commerce {__version__} on http://{host}:{port}  (API docs: /docs)")
    if workers == 1 and not reload:
        # One process: serve the kernel already wired above instead of building it again.
        from toolbox_core.app import create_app

        target: Any = create_app(toolbox=toolbox)
        factory = False
    else:
        toolbox.close()  # each worker process builds its own
        target, factory = "toolbox_core.app:create_app", True
    uvicorn.run(
        target,
        factory=factory,
        host=host,
        port=port,
        workers=workers if not reload else 1,
        reload=reload,
        log_level=os.environ.get("TOOLBOX_LOG_LEVEL", "info").lower(),
        access_log=False,
        **proxy_options(toolbox.settings),
    )


def proxy_options(settings: Any) -> dict[str, Any]:
    """uvicorn's proxy-header options: off. The app believes ``X-Forwarded-*`` from
    ``http.trusted_proxies`` itself (:func:`toolbox_core.clientip.install_proxy_headers`, under
    any ASGI server); uvicorn's own would be a second copy of that layer on every request, and
    by default trusts 127.0.0.1, which would let anything on the host pick its client address."""
    return {"proxy_headers": False, "forwarded_allow_ips": None}


class LazyToolbox:
    """The toolbox ``register_commands`` hands to plugins: built on first attribute access.

    Registering commands must not need a database or valid settings (``toolbox --help`` works
    anywhere), so the real :class:`~toolbox_core.kernel.Toolbox` is created only when a command
    uses it; a configuration problem then exits with the usual clear message.
    """

    def __init__(self) -> None:
        self._toolbox: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._toolbox is None:
            self._toolbox = open_toolbox()
        return getattr(self._toolbox, name)


# ---------------------------------------------------------------------------- migrate
migrate_app = typer.Typer(help="Upgrade the database schema; `migrate revision` writes a plugin migration.",
                          no_args_is_help=False)
cli.add_typer(migrate_app, name="migrate")


@migrate_app.callback(invoke_without_command=True)
def migrate_cmd(ctx: typer.Context) -> None:
    """Upgrade the kernel's and every enabled plugin's database schema (safe to run twice)."""
    if ctx.invoked_subcommand is not None:
        return
    toolbox = open_toolbox()
    toolbox.migrate()
    from toolbox_core.db.migrate import current_heads

    console.print(f"database at {', '.join(sorted(current_heads(toolbox.db.engine))) or 'base'}")
    toolbox.close()


@migrate_app.command("revision")
def migrate_revision(
    plugin: Annotated[str, typer.Option("--plugin", help="Enabled plugin whose branch gets the revision")],
    message: Annotated[str, typer.Option("-m", "--message", help="What the revision does")] = "update",
) -> None:
    """Autogenerate a revision on a plugin's Alembic branch from its models (review it!)."""
    from toolbox_core.db.autogen import plugin_revision

    toolbox = open_toolbox()
    try:
        written = plugin_revision(toolbox, plugin, message)
    except PluginError as exc:
        raise _fail(str(exc)) from None
    finally:
        toolbox.close()
    for path in written:
        console.print(f"wrote {path}")


# ---------------------------------------------------------------------------- plugins
@cli.command("plugins")
def plugins_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    builtin: Annotated[bool, typer.Option(help="Also list the kernel's built-in plugins")] = False,
) -> None:
    """List installed plugins: name, version, enabled or not, hooks implemented."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    manager = PluginManager()
    problem = None
    try:
        manager.load(settings.plugins)
    except PluginError as exc:
        problem = str(exc)
    rows = [p.as_dict() for p in manager.plugins.values() if builtin or not p.builtin]
    print_rows(rows, [Col("name", ident=True), Col("version"), Col("enabled"), Col("hooks", drop=1),
                      Col("distribution", drop=2)], as_json=as_json)
    if not as_json:
        typer.echo(f"kernel {__version__}, plugin API {KERNEL_API_VERSION}")
    if problem:
        raise _fail(problem)


# ---------------------------------------------------------------------------- plugin new
plugin_app = typer.Typer(help="Write plugins: `toolbox plugin new NAME --kind KIND`.", no_args_is_help=True)
cli.add_typer(plugin_app, name="plugin")


@plugin_app.command("new")
def plugin_new(
    name: Annotated[str, typer.Argument(help="Plugin name: lowercase letters, digits, _ (e.g. uzcard)")],
    kind: Annotated[str, typer.Option(help="payment | shipping | notification | inventory | routes")],
    dest: Annotated[str, typer.Option(help="Folder to create toolbox_<name>/ in")] = ".",
    title: Annotated[str | None, typer.Option(help="Human-readable name (default: from NAME)")] = None,
) -> None:
    """Create a plugin distribution: pyproject, hooks, settings, migrations, README and tests."""
    from pathlib import Path

    from toolbox_core.scaffold import ScaffoldError, create_plugin

    try:
        root = create_plugin(name, kind, Path(dest), title=title)
    except ScaffoldError as exc:
        raise _fail(str(exc), code=2) from None
    console.print(f"created {root}")
    console.print(f"next: cd {root} && pip install -e . && pytest   (enable with TOOLBOX_PLUGINS={name})")


@plugin_app.command("reference")
def plugin_reference() -> None:
    """Print the hooks and provider interfaces as Markdown (> docs/plugin-reference.md)."""
    from toolbox_core.plugins.reference import reference_markdown

    typer.echo(reference_markdown(), nl=False)


# ---------------------------------------------------------------------------- config
@cli.command("config")
def config_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Print the effective configuration and where each value came from (secrets masked)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    manager = PluginManager()
    try:
        manager.load(settings.plugins)
    except PluginError as exc:
        err.print(f"[yellow]warning:[/] {escape(str(exc))}")
    rows = [{"key": r.key, "value": r.value, "source": r.source} for r in explain(settings, manager.settings)]
    if not as_json:
        rows = [row | {"value": json.dumps(row["value"], default=str, ensure_ascii=False)} for row in rows]
    print_rows(rows, [Col("key", ident=True), Col("value"), Col("source", drop=1)], as_json=as_json)


# ---------------------------------------------------------------------------- doctor
@cli.command()
def doctor() -> None:
    """Check configuration and every configured service; say plainly what is wrong."""
    from toolbox_core.doctor import run_checks

    failures = 0
    for check in run_checks():
        mark = "[red]FAIL[/]" if not check.ok else "[yellow]warn[/]" if check.warning else "[green]ok[/]  "
        console.print(f"{mark} {check.name}: {escape(check.message)}")
        failures += not check.ok
    if failures:
        raise _fail(f"{failures} check(s) failed")


# ---------------------------------------------------------------------------- worker
@cli.command()
def worker(
    processes: Annotated[int, typer.Option(help="Worker processes")] = 1,
    threads: Annotated[int, typer.Option(help="Threads per process")] = 8,
    scheduler: Annotated[bool, typer.Option(help="Also run the scheduler in this process")] = True,
) -> None:
    """Run Dramatiq workers (and the scheduler) against the Redis broker."""
    from toolbox_core.jobs.worker import run_worker

    toolbox = open_toolbox(serving=True)
    if not toolbox.settings.redis_url:
        raise _fail("TOOLBOX_REDIS_URL is not set: without Redis, `toolbox serve` runs the workers in-process")
    run_worker(toolbox, processes=processes, threads=threads, scheduler=scheduler)


@cli.command()
def version() -> None:
    """Print the kernel version and plugin API version."""
    console.print(f"toolbox-core {__version__} (plugin API {KERNEL_API_VERSION})")


def _register_plugin_commands() -> None:
    """Let built-in and enabled plugins add their commands; a broken config never hides the CLI.

    They get a :class:`LazyToolbox`: nothing touches the database until a command runs.
    """
    try:
        settings = load_settings()
    except ConfigError:
        settings = None
    manager = PluginManager()
    with contextlib.suppress(PluginError):  # `toolbox plugins` / `toolbox doctor` report it
        manager.load(settings.plugins if settings else [])
    manager.call_each("register_commands", cli=cli, toolbox=LazyToolbox())


def main() -> None:
    _setup_logging()
    _register_plugin_commands()
    try:
        cli()
    except (ConfigError, PluginError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()

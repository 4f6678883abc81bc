"""The one harness every figure uses.

* :func:`fresh_database` — an empty SQLite file or a new PostgreSQL database, migrated, dropped
  at exit;
* :class:`Server` — ``uvicorn`` with N workers serving ``create_app`` on loopback, with chosen
  plugins and settings, stopped at exit;
* :func:`wrk` — a bounded GET load with ``wrk`` (Debian package ``wrk``), parsed;
* :func:`scenario_load` — a bounded load of multi-step scenarios with an async httpx client,
  for flows wrk cannot script (checkout, sign-in);
* :func:`figure` — prints ``name: value unit``; :func:`machine` prints the core count.

Everything binds to 127.0.0.1 and every load has a duration and a concurrency bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PG_ADMIN_URL = os.environ.get("TOOLBOX_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = "redis://127.0.0.1:6379"


def _claim_redis_database() -> str:
    """A Redis database number of this run's own, claimed with the protocol the test fixtures
    use (``toolbox-test-claim:N`` in database 0), so a benchmark never flushes a database a
    test session is using. Released when the process exits."""
    import atexit

    import redis

    try:
        control = redis.Redis.from_url(f"{REDIS_BASE_URL}/0", socket_connect_timeout=2)
        control.ping()
    except Exception:
        return f"{REDIS_BASE_URL}/15"  # Redis is down: benchmarks that need it fail on use
    token = uuid.uuid4().hex
    for number in range(15, 0, -1):
        if control.set(f"toolbox-test-claim:{number}", token, nx=True, ex=3600):
            atexit.register(lambda n=number: control.get(f"toolbox-test-claim:{n}") == token.encode()
                            and control.delete(f"toolbox-test-claim:{n}"))
            return f"{REDIS_BASE_URL}/{number}"
    raise RuntimeError("no free Redis database number (all 15 are claimed)")


#: This run's own Redis database (flushed freely by the benchmarks), unless overridden.
#: One strong key per benchmark run (servers outside embedded mode refuse the default).
BENCH_SECRET_KEY = secrets.token_urlsafe(48)

REDIS_URL = os.environ.get("TOOLBOX_BENCH_REDIS_URL") or _claim_redis_database()


# ---------------------------------------------------------------------------- output
def figure(name: str, value: float | int | str, unit: str = "") -> None:
    """Print one figure as ``name: value unit``."""
    if isinstance(value, float):
        value = f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def machine() -> None:
    figure("cores", os.cpu_count() or 0)


# ---------------------------------------------------------------------------- databases
@contextlib.contextmanager
def fresh_database(kind: str = "sqlite", *, migrate: bool = True, plugins: list[str] | None = None) -> Iterator[str]:
    """Yield the URL of a new empty database of ``kind`` (``sqlite`` or ``postgres``)."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="toolbox-bench-"))
        url = f"sqlite:///{folder / 'bench.db'}"
        try:
            if migrate:
                _migrate(url, plugins or [])
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}")
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"toolbox_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        if migrate:
            _migrate(url, plugins or [])
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str, plugins: list[str]) -> None:
    toolbox = open_toolbox(url, plugins=plugins)
    toolbox.migrate()
    toolbox.close()


def open_toolbox(database_url: str, *, plugins: list[str] | None = None, **settings: Any) -> Any:
    """An in-process kernel on the benchmark's database, for seeding and counting."""
    from toolbox_core.config import Settings
    from toolbox_core.kernel import Toolbox

    return Toolbox.create(Settings(database_url=database_url, plugins=plugins or [], **settings))


# ---------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """``uvicorn toolbox_core.app:create_app --factory`` with ``workers`` processes on loopback.

    ``env`` adds ``TOOLBOX_*`` variables (e.g. ``{"TOOLBOX_REDIS_URL": ...}``). Use as a context
    manager; ``url`` is the base URL once started.
    """

    database_url: str
    workers: int = 1
    plugins: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    startup_timeout: float = 30.0
    process: subprocess.Popen[bytes] | None = None
    #: CPUs the server (and its workers) may run on (``taskset -c`` list, e.g. ``"1"``); all when empty.
    cpus: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
        env.update(
            TOOLBOX_DATABASE_URL=self.database_url,
            TOOLBOX_PLUGINS=",".join(self.plugins),
            TOOLBOX_LOG_LEVEL="WARNING",
            # A production-shaped server refuses the public default key: give it a fresh one.
            TOOLBOX_AUTH__SECRET_KEY=BENCH_SECRET_KEY,
        )
        env.update(self.env)
        # Experiments without editing a benchmark: TOOLBOX_BENCH_SERVER_ENV="TOOLBOX_X=1 TOOLBOX_Y=2".
        env.update(item.split("=", 1) for item in os.environ.get("TOOLBOX_BENCH_SERVER_ENV", "").split())
        return env

    def command(self) -> list[str]:
        pin = ["taskset", "-c", self.cpus] if self.cpus and shutil.which("taskset") else []
        return [
            *pin, sys.executable, "-m", "uvicorn", "toolbox_core.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
            "--log-level", "warning", "--no-access-log", "--no-proxy-headers",  # as `toolbox serve`
        ]

    def start(self) -> float:
        """Start and wait for ``/health`` on every worker; returns seconds to first success."""
        started = time.perf_counter()
        self.process = subprocess.Popen(self.command(), env=self.environment())
        deadline = started + self.startup_timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError("server did not become healthy in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:  # never leave a half-started server behind
            self.stop()
            raise
        time.sleep(0.5 if self.workers > 1 else 0)  # let every worker finish its start-up
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------- load
@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(url: str, *, connections: int = 32, seconds: int = 10, threads: int = 2, script: str | None = None) -> LoadResult:
    """Drive GET load at ``url`` with wrk; non-2xx responses count as errors."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    return _parse_wrk(out)


def _parse_wrk(out: str) -> LoadResult:
    def latency(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not total:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    seconds = float(total.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[total.group(3)]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return LoadResult(int(total.group(1)), seconds, errors, latency("50"), latency("99"))


#: The wrk scripts of the benchmarks (``benchmarks/lua/``).
LUA_DIR = Path(__file__).parent / "lua"


def pin_generator(opts: Any) -> str:
    """With ``--pin``: this process (the load generator) on CPU 0; returns the CPU list for the
    server (``"1"``), or ``""`` when not pinning. PostgreSQL still runs where the OS puts it."""
    if not getattr(opts, "pin", False) or (os.cpu_count() or 1) < 2:
        return ""
    os.sched_setaffinity(0, {0})
    return "1"


def wrk_lua(url: str, script: str, rows: list[list[str]], args: list[str], *, connections: int = 16,
            seconds: float = 10) -> tuple[LoadResult, dict[str, int]]:
    """Drive a multi-call flow with ``wrk`` and the Lua ``script`` (a name in ``LUA_DIR``).

    Every connection has its own wrk thread and plays whole flows one after another; ``rows``
    (precomputed bodies, tab-separated) are written to a file the script shares among the
    threads, and ``args`` follow it. Returns the load (per HTTP request) and the script's own
    counters (its ``lua_<name>: N`` lines, e.g. completed payments and errors).
    """
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    handle, data = tempfile.mkstemp(suffix=".tsv", prefix="toolbox-bench-")
    with os.fdopen(handle, "w") as out:
        out.writelines("\t".join(row) + "\n" for row in rows)
    try:
        cmd = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
               "--timeout", "5s", "-s", str(LUA_DIR / script), url, "--", data, *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
        if out.returncode != 0:
            raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    finally:
        os.unlink(data)
    counters = {m.group(1): int(m.group(2)) for m in re.finditer(r"^lua_(\w+): (\d+)$", out.stdout, re.M)}
    return _parse_wrk(out.stdout), counters


Scenario = Callable[[httpx.AsyncClient, int], Awaitable[None]]


def scenario_load(base_url: str, scenario: Scenario, *, concurrency: int = 16, seconds: float = 10,
                  max_iterations: int | None = None) -> LoadResult:
    """Run ``scenario(client, n)`` repeatedly from ``concurrency`` tasks for ``seconds``.

    Each completed scenario is one "request" in the result (its latency is the whole
    scenario's); a scenario raising counts as an error.
    """
    return asyncio.run(_scenario_load(base_url, scenario, concurrency, seconds, max_iterations))


async def _scenario_load(base_url: str, scenario: Scenario, concurrency: int, seconds: float,
                         max_iterations: int | None) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline and (max_iterations is None or counter < max_iterations):
                counter += 1
                n = counter
                t0 = time.perf_counter()
                try:
                    await scenario(client, n)
                    latencies.append((time.perf_counter() - t0) * 1000)
                except Exception:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), elapsed, errors, _pct(latencies, 50), _pct(latencies, 99))


def _pct(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def report(prefix: str, result: LoadResult) -> None:
    """Print the standard figures of one load run."""
    figure(f"{prefix}_rps", result.rps, "req/s")
    figure(f"{prefix}_p50", result.p50_ms, "ms")
    figure(f"{prefix}_p99", result.p99_ms, "ms")
    figure(f"{prefix}_errors", result.errors, "")


def lua_rotation(paths: list[str]) -> str:
    """A wrk script (a temporary file) that cycles through ``paths``."""
    body = ", ".join(f'"{p}"' for p in paths)
    script = (f"local paths = {{{body}}}\nlocal n = 0\nrequest = function()\n  n = n + 1\n"
              f"  return wrk.format(\"GET\", paths[(n % #paths) + 1])\nend\n")
    path = Path(tempfile.mkstemp(suffix=".lua", prefix="toolbox-bench-")[1])
    path.write_text(script)
    return str(path)


# ---------------------------------------------------------------------------- redis and audits
def flushed_redis(url: str = REDIS_URL) -> str:
    """Flush and return a Redis database of this run's own (``REDIS_URL`` unless given).

    Servers run as in production, with Redis: the API workers then do not also run the
    embedded mode's in-process job workers, outbox relay and scheduler.
    """
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


def payment_audit(url: str, plugins: list[str] | None = None) -> tuple[int, int]:
    """(orders paid, ``payment.captured`` outbox events) in the database at ``url``."""
    from sqlalchemy import func, select

    from toolbox_core.events.models import OutboxEvent
    from toolbox_core.orders.models import Order

    toolbox = open_toolbox(url, plugins=plugins)
    with toolbox.db.session() as session:
        paid = session.scalar(select(func.count()).select_from(Order).where(Order.payment_status == "paid"))
        captured = session.scalar(select(func.count()).select_from(OutboxEvent)
                                  .where(OutboxEvent.name == "payment.captured"))
    toolbox.close()
    return int(paid or 0), int(captured or 0)


#: The delivery address of every order a benchmark places.
ADDRESS = {"region": "Toshkent", "city": "Toshkent", "district": "Yunusobod", "street": "Amir Temur 1"}


def place_order(carts: Any, checkout: Any, variant_id: str, provider_id: str) -> tuple[str, int]:
    """One order of one unit of ``variant_id``, placed in-process through ``CartService`` and
    ``CheckoutService`` (as the storefront would), paid with ``provider_id``: (number, total)."""
    cart = carts.create(None, "ru", "+998901234567")["id"]
    carts.add_line(cart, None, variant_id, 1)
    carts.update(cart, None, {"address": dict(ADDRESS)})
    carts.select_shipping(cart, None, "flat", "flat")
    carts.select_payment(cart, None, provider_id)
    result = checkout.complete(cart, None)
    return result.number, result.total


# ---------------------------------------------------------------------------- work per request
@dataclass
class StatementCount:
    """What one engine sent while counted: statements (per label of :meth:`step`; an
    ``executemany`` is one), the
    SQLAlchemy ``commits`` and ``rollbacks``, and the real ``transactions`` among them, those
    of a connection that ran a statement outside autocommit. psycopg sends a transaction's
    ``BEGIN`` and its ``COMMIT`` or ``ROLLBACK`` as round trips of their own; a statement on an
    AUTOCOMMIT connection is one round trip in no transaction."""

    statements: int = 0
    commits: int = 0
    rollbacks: int = 0
    transactions: int = 0
    by_step: dict[str, int] = field(default_factory=dict)
    sql: list[str] = field(default_factory=list)
    _step: str = "-"

    def step(self, label: str) -> None:
        """Count the statements that follow under ``label``."""
        self._step = label

    @property
    def round_trips(self) -> int:
        """Statements plus the BEGIN and the COMMIT/ROLLBACK of each real transaction."""
        return self.statements + 2 * self.transactions


@contextlib.contextmanager
def counting_statements(engine: Any, *, keep_sql: bool = False) -> Iterator[StatementCount]:
    """Count what runs on ``engine`` while open (SQLAlchemy ``before_cursor_execute``, ``commit``
    and ``rollback`` listeners); ``keep_sql`` keeps each statement, marked when in autocommit."""
    from sqlalchemy import event

    count = StatementCount()
    in_transaction: set[int] = set()

    def on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        count.statements += 1
        count.by_step[count._step] = count.by_step.get(count._step, 0) + 1
        autocommit = bool(getattr(conn.connection.dbapi_connection, "autocommit", False))
        if not autocommit:
            in_transaction.add(id(conn.connection.dbapi_connection))
        if keep_sql:
            mode = " (autocommit)" if autocommit else ""
            count.sql.append(f"[{count._step}{mode}] {' '.join(statement.split())[:200]}")

    def on_end(conn: Any, kind: str) -> None:
        key = id(conn.connection.dbapi_connection)
        if key in in_transaction:
            in_transaction.discard(key)
            count.transactions += 1
            if keep_sql:
                count.sql.append(f"[{count._step}] ({kind})")

    def on_commit(conn: Any) -> None:
        count.commits += 1
        on_end(conn, "commit")

    def on_rollback(conn: Any) -> None:
        count.rollbacks += 1
        on_end(conn, "rollback")

    listeners = [("before_cursor_execute", on_execute), ("commit", on_commit), ("rollback", on_rollback)]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        yield count
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` (``/proc/<pid>/stat``; vanished processes count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _CLOCK_TICKS


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (uvicorn's master and its worker processes)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def postgres_backends(database_url: str) -> list[int]:
    """Process ids of the PostgreSQL backends connected to the database of ``database_url``
    (readable in ``/proc`` when the server runs on this machine)."""
    from sqlalchemy import create_engine, text

    name = database_url.rsplit("/", 1)[1].split("?")[0]
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            return [int(p) for p in conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name}).scalars()]
    finally:
        engine.dispose()


def pg_transactions(database_url: str) -> int:
    """Committed plus rolled-back transactions of that database so far (``pg_stat_database``)."""
    from sqlalchemy import create_engine, text

    name = database_url.rsplit("/", 1)[1].split("?")[0]
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(conn.execute(text("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                         "WHERE datname = :name"), {"name": name}).scalar() or 0)
    finally:
        engine.dispose()


def pin(pids: list[int], cpus: set[int]) -> None:
    """Run ``pids`` on ``cpus`` only (``sched_setaffinity``), where the machine has them."""
    usable = cpus & set(range(os.cpu_count() or 1))
    if not usable or not hasattr(os, "sched_setaffinity"):
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.sched_setaffinity(pid, usable)


@dataclass(frozen=True)
class Step:
    """One request of a multi-step scenario; ``{id}`` in ``path`` is the id the first step returned."""

    method: str
    path: str
    json: Any = None


def lua_flow(steps: list[Step]) -> str:
    """A wrk script (a temporary file) that runs ``steps`` in order on each connection, again and again.

    Run it with one connection per thread (``-t N -c N``): wrk keeps script state per thread. The
    first step's response gives ``{id}`` (its first ``"id"``); a response ≥ 400 counts an error and
    restarts the flow. ``done`` prints ``flows: N``, ``flow_errors: N`` and ``flow_ms: a,b,...``
    (each completed flow's wall time).
    """
    import json as _json

    def lua_str(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    rows = ",\n".join(
        f"  {{{lua_str(s.method)}, {lua_str(s.path)}, {lua_str(_json.dumps(s.json)) if s.json is not None else 'nil'}}}"
        for s in steps)
    script = f"""local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} toolbox_ts;
int clock_gettime(int clk, toolbox_ts *tp);
]]
local ts = ffi.new("toolbox_ts")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local steps = {{
{rows}
}}
local headers = {{["Content-Type"] = "application/json"}}
local threads = {{}}
local step, id, started = 1, "", 0
flows, flow_errors, flow_ms = 0, 0, ""
function setup(thread) table.insert(threads, thread) end
function request()
  local s = steps[step]
  if step == 1 then started = now_ms() end
  local path = string.gsub(s[2], "{{id}}", id)
  return wrk.format(s[1], path, headers, s[3])
end
function response(status, hdrs, body)
  if status >= 400 then
    flow_errors = flow_errors + 1
    step = 1
    return
  end
  if step == 1 then id = string.match(body, '"id"%s*:%s*"([^"]+)"') or "" end
  step = step + 1
  if step > #steps then
    flows = flows + 1
    flow_ms = flow_ms .. string.format("%.2f,", now_ms() - started)
    step = 1
  end
end
function done(summary, latency, requests)
  local n, e, ms = 0, 0, {{}}
  for _, t in ipairs(threads) do
    n = n + t:get("flows")
    e = e + t:get("flow_errors")
    table.insert(ms, t:get("flow_ms"))
  end
  io.write(string.format("flows: %d\\nflow_errors: %d\\nflow_ms: %s\\n", n, e, table.concat(ms)))
end
"""
    path = Path(tempfile.mkstemp(suffix=".lua", prefix="toolbox-bench-")[1])
    path.write_text(script)
    return str(path)


def wrk_flow(base_url: str, steps: list[Step], *, connections: int = 16, seconds: int = 8) -> LoadResult:
    """Run :func:`lua_flow` with wrk (one thread per connection): one "request" per completed flow."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    script = lua_flow(steps)
    try:
        cmd = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", script,
               base_url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    total = re.search(r"requests in ([\d.]+)(ms|s|m)", out)
    flows = re.search(r"^flows: (\d+)", out, re.M)
    errors = re.search(r"^flow_errors: (\d+)", out, re.M)
    times = re.search(r"^flow_ms: ([\d.,]*)", out, re.M)
    if not (total and flows and errors and times):
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    elapsed = float(total.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[total.group(2)]
    latencies = [float(v) for v in times.group(1).split(",") if v]
    errors_n = int(errors.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors_n += sum(int(g) for g in sock.groups())
    return LoadResult(int(flows.group(1)), elapsed, errors_n, _pct(latencies, 50), _pct(latencies, 99))


def _cpu_ms(pids: list[int]) -> float:
    return process_cpu_seconds(pids) * 1000


#: Set ``TOOLBOX_BENCH_PYSPY=<folder>`` to record every measured load's API workers with py-spy
#: (``pip install py-spy``): one collapsed-stack file per worker, for ``benchmarks.profile``.
PYSPY_DIR = os.environ.get("TOOLBOX_BENCH_PYSPY", "")


@contextlib.contextmanager
def recording(pids: list[int], label: str) -> Iterator[None]:
    """py-spy records ``pids`` (the served API workers, not this process) while the block runs,
    when ``TOOLBOX_BENCH_PYSPY`` names a folder; otherwise does nothing."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not PYSPY_DIR or not Path(spy).exists():
        yield
        return
    Path(PYSPY_DIR).mkdir(parents=True, exist_ok=True)
    recorders = [subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--gil",
                                   "--nonblocking", "-o", f"{PYSPY_DIR}/{label}-{pid}.txt"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for pid in pids]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(2)  # SIGINT: py-spy writes its file and exits
        for recorder in recorders:
            recorder.wait(30)


@dataclass
class CostMeter:
    """Wall time and CPU over a block: of this process, of ``pids`` (API workers) and of the
    PostgreSQL backends connected to ``database_url`` (a backend born inside the block counts
    from zero; one that exits inside it is lost, so keep the pools warm)."""

    database_url: str | None = None
    pids: list[int] = field(default_factory=list)
    own_ms: float = 0.0
    workers_ms: float = 0.0
    postgres_ms: float = 0.0
    wall_ms: float = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[CostMeter]:
        backends = postgres_backends(self.database_url) if self.database_url else []
        pg_before = {pid: _cpu_ms([pid]) for pid in backends}
        own, workers, wall = time.process_time(), _cpu_ms(self.pids), time.perf_counter()
        with recording(self.pids, "load"):
            yield self
        self.wall_ms = (time.perf_counter() - wall) * 1000
        self.own_ms = (time.process_time() - own) * 1000
        self.workers_ms = _cpu_ms(self.pids) - workers
        if self.database_url:
            self.postgres_ms = sum(_cpu_ms([pid]) - pg_before.get(pid, 0.0)
                                   for pid in postgres_backends(self.database_url))

    def per(self, count: int, prefix: str) -> None:
        """Print the costs divided by ``count`` (callbacks, cycles...) as ``prefix_*`` figures."""
        count = max(count, 1)
        figure(f"{prefix}_wall_ms", self.wall_ms / count, "ms")
        if self.own_ms:
            figure(f"{prefix}_cpu_ms", self.own_ms / count, "ms (this process)")
        if self.pids:
            figure(f"{prefix}_api_cpu_ms", self.workers_ms / count, "ms (API workers)")
        if self.database_url:
            figure(f"{prefix}_postgres_cpu_ms", self.postgres_ms / count, "ms (PostgreSQL backends)")


def memory_mb(pid: int, field_name: str = "VmRSS") -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (uvicorn's worker processes; multiprocessing's resource
    tracker is not one)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and b"resource_tracker" not in _cmdline(int(stat.parent.name)):
            out.append(int(stat.parent.name))
    return sorted(out)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _pg_stats(database_url: str) -> tuple[list[int], int]:
    """(backend pids of the database, sessions ever opened on it) from ``pg_stat_*``."""
    from sqlalchemy import create_engine, text

    name = database_url.rsplit("/", 1)[1]
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pids = [int(p) for p in conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": name}).scalars()]
            sessions = conn.scalar(text("SELECT sessions FROM pg_stat_database WHERE datname = :d"), {"d": name})
    finally:
        engine.dispose()
    return pids, int(sessions or 0)


@dataclass
class Costs:
    """CPU per request of the API workers (and PostgreSQL's backends) over one load, and RSS.

    CPU per request is robust under a shared machine where throughput is not: it is what each
    request costs, whoever else runs. PostgreSQL CPU counts the backends alive at the end of
    the run; ``pg_connections_opened`` shows connections opened meanwhile (pool churn), whose
    CPU is not counted.
    """

    server: Server
    pg: bool = False
    workers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.server.process is not None
        self.workers = worker_pids(self.server.process.pid) or [self.server.process.pid]

    def idle_rss(self) -> list[float]:
        return [memory_mb(pid) for pid in self.workers]

    def measure(self, prefix: str, load: Callable[[], LoadResult]) -> LoadResult:
        """Run ``load`` and print its figures (throughput and latency: under shared load, noise)
        plus CPU per request (API workers, PostgreSQL) and the peak RSS of each worker."""
        pg_pids, pg_sessions = _pg_stats(self.server.database_url) if self.pg else ([], 0)
        pg_before = {pid: process_cpu_seconds([pid]) for pid in pg_pids}
        api_before = process_cpu_seconds(self.workers)
        with recording(self.workers, prefix):
            result = load()
        api_after = process_cpu_seconds(self.workers)
        report(prefix, result)
        n = max(result.requests, 1)
        figure(f"{prefix}_api_cpu_per_request", (api_after - api_before) * 1000 / n, "ms")
        if self.pg:
            pids, sessions = _pg_stats(self.server.database_url)
            pg_used = sum(process_cpu_seconds([pid]) - pg_before.get(pid, 0.0) for pid in pids)
            figure(f"{prefix}_pg_cpu_per_request", pg_used * 1000 / n, "ms")
            figure(f"{prefix}_pg_connections_opened", sessions - pg_sessions)
        for i, pid in enumerate(self.workers):
            figure(f"{prefix}_worker{i}_peak_rss", memory_mb(pid, "VmHWM"), "MB")
        return result

"""``toolbox doctor``: configuration and connectivity checks with plain answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolbox_core.config import ConfigError, load_settings, mask_url


@dataclass(frozen=True)
class Check:
    """One line of ``toolbox doctor``: what was checked, whether it is fine, and a plain message.

    Plugins return these from the ``doctor_checks`` hook (exported as ``DoctorCheck``). A
    message says what to fix when ``ok`` is false; it never contains a secret.
    """

    name: str
    ok: bool
    message: str
    #: Fine for now but worth a look (printed as ``warn``; does not fail ``toolbox doctor``).
    warning: bool = False


def run_checks() -> list[Check]:
    """Run every check that applies to the current configuration, stopping early only if
    the configuration itself cannot be read (or the kernel's own plugins cannot load).

    A plugin that cannot be loaded is one failed ``plugins`` check each; the kernel's checks
    and the ``doctor_checks`` of the plugins that did load still run.
    """
    from toolbox_core.kernel import Toolbox
    from toolbox_core.plugins import PluginError

    checks: list[Check] = []
    try:
        settings = load_settings()
        checks.append(Check("config", True, "settings are valid"))
    except ConfigError as exc:
        return [Check("config", False, str(exc))]
    plugin_errors: list[PluginError] = []
    try:
        toolbox = Toolbox.create(settings, plugin_errors=plugin_errors)
    except (ConfigError, PluginError) as exc:
        return [*checks, Check("plugins", False, str(exc))]
    checks.extend(Check("plugins", False, str(error)) for error in plugin_errors)
    enabled = [n for n, p in toolbox.plugins.plugins.items() if p.enabled and not p.builtin]
    if enabled or not plugin_errors:  # "enabled: none" beside the failures would mislead
        checks.append(Check("plugins", True, f"enabled: {', '.join(enabled) or 'none'}"))

    checks.extend(safety_checks(settings))
    checks.extend(abuse_checks(settings))
    checks.append(_database(toolbox))
    if settings.redis_url:
        checks.append(_redis(settings.redis_url))
        checks.append(_worker(toolbox))
    else:
        checks.append(Check("redis", True, "not configured: embedded mode (database key store, in-process jobs)"))
    if settings.search.meilisearch_url:
        checks.append(_meilisearch(settings))
    else:
        checks.append(Check("search", True, "not configured: database search"))
    if settings.storage.backend == "s3":
        checks.append(_s3(settings))
    else:
        checks.append(Check("storage", True, f"local files in {settings.storage.local_path}"))
    checks.extend(plugin_checks(toolbox))
    toolbox.close()
    return checks


def public_base_url_check(settings) -> Check:  # type: ignore[no-untyped-def]
    """``public_base_url`` unset outside the embedded/debug mode fails, as Secure-less cookies do: a
    deployment may work (a proxy that sets ``Host``), so ``serve`` does not refuse it."""
    if settings.public_base_url:
        return Check("public_base_url", True, f"absolute URLs start with {settings.public_base_url}")
    if settings.is_embedded or settings.debug:
        return Check("public_base_url", True, "unset: absolute URLs from each request's Host header (embedded/"
                                              "debug mode; set TOOLBOX_PUBLIC_BASE_URL before going live)")
    return Check("public_base_url", False, "unset outside the embedded mode: image URLs are built from each "
                                           "request's Host header, which the client chooses (a cache may then "
                                           "hand out links to another host); set "
                                           "TOOLBOX_PUBLIC_BASE_URL=https://api.your-shop.uz")


def safety_checks(settings) -> list[Check]:  # type: ignore[no-untyped-def]
    """Secret key, cookie flags and redirect origins: what ``toolbox serve`` refuses or relies on."""
    checks: list[Check] = []
    problem = settings.secret_key_problem()
    if problem is None:
        checks.append(Check("secret_key", True, "auth.secret_key is set"))
    elif settings.is_embedded:
        checks.append(Check("secret_key", True, f"{problem} (accepted in the embedded mode only; "
                                                "set TOOLBOX_AUTH__SECRET_KEY before going live)", warning=True))
    else:
        checks.append(Check("secret_key", False, f"{problem}: `toolbox serve` refuses to start; "
                                                 "set TOOLBOX_AUTH__SECRET_KEY to a random key of 32+ characters"))
    insecure = [name for name, secure in (("session", settings.auth.session_cookie_secure),
                                          ("cart", settings.cart.cookie_secure)) if not secure]
    if not insecure:
        checks.append(Check("cookies", True, "session and cart cookies are Secure"))
    elif settings.is_embedded or settings.debug:
        checks.append(Check("cookies", True, f"{', '.join(insecure)} cookie(s) not Secure (embedded/debug mode)",
                            warning=True))
    else:
        checks.append(Check("cookies", False, f"{', '.join(insecure)} cookie(s) not Secure outside the embedded "
                                              "mode: remove TOOLBOX_AUTH__SESSION_COOKIE_SECURE / "
                                              "TOOLBOX_CART__COOKIE_SECURE=false and serve over HTTPS"))
    checks.append(public_base_url_check(settings))
    origins = settings.return_url_origins
    checks.append(Check("return_url", True, f"checkout return_url allowed to {', '.join(origins)}" if origins else
                        "no storefront origins: a checkout return_url is refused "
                        "(set TOOLBOX_STOREFRONT_ORIGINS=https://your-shop.uz to allow one)"))
    checks.append(Check("request_limits", True, f"bodies up to {settings.http.max_body_bytes} bytes, uploads up to "
                                                f"{settings.storage.max_upload_bytes} bytes"))
    return checks


#: Narrowest trusted-proxy network accepted by ``doctor`` (wider ones trust whole providers).
MIN_PROXY_PREFIX = {4: 16, 6: 48}
#: Failed code checks per phone per day above which guessing a 6-digit code is no longer rare.
MAX_SAFE_FAILED_PER_DAY = 100


def abuse_checks(settings) -> list[Check]:  # type: ignore[no-untyped-def]
    """Who rate limits count (trusted proxies), the sign-in code limits and the Redis namespace."""
    import ipaddress

    checks: list[Check] = []
    proxies = [ipaddress.ip_network(p) for p in settings.http.trusted_proxies]
    broad = [str(n) for n in proxies if n.prefixlen < MIN_PROXY_PREFIX[n.version]]
    if not proxies:
        checks.append(Check("trusted_proxies", True, "none: the direct peer is the client. Behind a reverse "
                                                     "proxy set TOOLBOX_HTTP__TRUSTED_PROXIES to its address, or "
                                                     "every shopper shares one rate limit"))
    elif broad:
        checks.append(Check("trusted_proxies", False, f"{', '.join(broad)} is too broad: any client in it can "
                                                      "set X-Forwarded-For and dodge the rate limits; list "
                                                      "your proxies' own addresses"))
    else:
        checks.append(Check("trusted_proxies", True, f"X-Forwarded-For believed from {', '.join(map(str, proxies))} "
                                                     "only; keep the app reachable through them alone (do not "
                                                     "publish `toolbox serve`'s port)"))
    auth = settings.auth
    limits = (f"{auth.otp_max_per_ip_per_hour}/h per address (IPv6 per /64), {auth.otp_max_per_hour}/h per "
              f"phone, {auth.otp_max_per_minute}/min for the store; {auth.otp_max_attempts} checks per code, "
              f"{auth.otp_max_failed_per_day} failed per phone per day, "
              f"{auth.otp_verify_max_per_ip_per_hour} checks/h per address")
    if auth.otp_max_failed_per_day > MAX_SAFE_FAILED_PER_DAY:
        checks.append(Check("otp_limits", False, f"{limits}: more than {MAX_SAFE_FAILED_PER_DAY} failed checks a "
                                                 "day makes guessing a code practical; lower "
                                                 "TOOLBOX_AUTH__OTP_MAX_FAILED_PER_DAY"))
    else:
        checks.append(Check("otp_limits", True, limits))
    if settings.redis_url:
        checks.append(Check("redis_namespace", True, f"every Redis key under {settings.jobs.redis_namespace!r}: "
                                                     "give each store sharing this Redis its own "
                                                     "(TOOLBOX_JOBS__REDIS_NAMESPACE)"))
    return checks


def plugin_checks(toolbox, only: str | None = None) -> list[Check]:  # type: ignore[no-untyped-def]
    """The ``doctor_checks`` of every plugin (or of plugin ``only``); a hook that raises is
    reported as a failed check."""
    from toolbox_core.asyncutil import resolve

    checks: list[Check] = []
    for impl in toolbox.plugins.pm.hook.doctor_checks.get_hookimpls():
        if only is not None and impl.plugin_name != only:
            continue
        try:
            checks.extend(resolve(impl.function(toolbox=toolbox)) or [])
        except Exception as exc:
            message = f"doctor check failed: {type(exc).__name__}: {exc}".splitlines()[0]
            checks.append(Check(impl.plugin_name, False, message))
    return checks


def tables_check(toolbox, plugin: str, *tables: Any, name: str | None = None) -> Check:  # type: ignore[no-untyped-def]
    """One check that a plugin's tables exist: each is read once (``SELECT 1 FROM t LIMIT 0``).

    ``tables`` are models, ``Table`` objects or table names. The answer is ``ok`` "``t1, t2``
    migrated", or a failure naming each missing table with "run toolbox migrate" (another
    error, e.g. the database unreachable, names its kind); never a traceback. The check is
    called ``name`` (default ``"<plugin>: tables"``). A plugin's doctor runs it first and skips
    (or reports as not checked) the checks that read those tables when it is not ``ok``.
    """
    import sqlalchemy as sa

    names: list[str] = []
    selectables: list[Any] = []
    for item in tables:
        table = getattr(item, "__table__", item)
        if isinstance(table, str):
            table = sa.table(table)
        names.append(table.fullname if isinstance(table, sa.Table) else table.name)
        selectables.append(table)
    label = name or f"{plugin}: tables"
    try:
        with toolbox.db.engine.connect() as conn:
            inspector = sa.inspect(conn)
            missing = [table_name for table_name, table in zip(names, selectables, strict=True)
                       if not inspector.has_table(table.name, schema=getattr(table, "schema", None))]
            if missing:
                verb = "is" if len(missing) == 1 else "are"
                return Check(label, False, f"{', '.join(missing)} {verb} missing: run toolbox migrate")
            for table in selectables:  # there, and readable by this role
                conn.execute(sa.select(sa.literal_column("1")).select_from(table).limit(0))
    except sa.exc.DBAPIError as exc:
        reason = f"{type(exc.orig).__name__}: {exc.orig}".splitlines()[0]
        return Check(label, False, f"cannot read {', '.join(names)}: {reason}")
    return Check(label, True, f"{', '.join(names)} migrated")


def _database(toolbox) -> Check:  # type: ignore[no-untyped-def]
    from toolbox_core.db.migrate import current_heads

    url = mask_url(toolbox.settings.database_url)
    try:
        toolbox.db.ping()
    except Exception as exc:
        return Check("database", False, f"cannot connect to {url}: {type(exc).__name__}: {exc}".splitlines()[0])
    heads = current_heads(toolbox.db.engine)
    if not heads:
        return Check("database", False, f"{url} is reachable but not migrated: run `toolbox migrate`")
    return Check("database", True, f"{url} reachable, at {', '.join(sorted(heads))}")


def _redis(url: str) -> Check:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
        return Check("redis", True, f"{mask_url(url)} reachable")
    except Exception as exc:
        return Check("redis", False, f"cannot reach {mask_url(url)}: {type(exc).__name__}: {exc}")


def _worker(toolbox) -> Check:  # type: ignore[no-untyped-def]
    from toolbox_core.jobs.heartbeat import worker_status

    status = worker_status(toolbox)
    if status["status"] == "ok":
        beat = status["last_beat"]
        return Check("worker", True, f"consuming: last heartbeat from {beat.get('host', '?')} "
                                     f"(pid {beat.get('pid', '?')}) at {beat.get('at', '?')}")
    seconds = 3 * toolbox.settings.jobs.worker_heartbeat_seconds
    return Check("worker", True, f"no worker heartbeat in the last {seconds}s: events and jobs wait "
                                 "until one runs; start `toolbox worker`", warning=True)


def _meilisearch(settings) -> Check:  # type: ignore[no-untyped-def]
    import httpx

    url = settings.search.meilisearch_url.rstrip("/")
    try:
        response = httpx.get(f"{url}/health", timeout=3)
        response.raise_for_status()
        return Check("search", True, f"Meilisearch at {url} is {response.json().get('status', 'up')}")
    except Exception as exc:
        return Check("search", False, f"Meilisearch at {url} unreachable: {type(exc).__name__}: {exc}")


def _s3(settings) -> Check:  # type: ignore[no-untyped-def]
    import boto3

    s = settings.storage
    try:
        client = boto3.client(
            "s3",
            endpoint_url=s.s3_endpoint_url,
            region_name=s.s3_region,
            aws_access_key_id=s.s3_access_key_id.get_secret_value() if s.s3_access_key_id else None,
            aws_secret_access_key=s.s3_secret_access_key.get_secret_value() if s.s3_secret_access_key else None,
        )
        client.head_bucket(Bucket=s.s3_bucket)
        return Check("storage", True, f"S3 bucket {s.s3_bucket!r} reachable")
    except Exception as exc:
        return Check("storage", False, f"S3 bucket {s.s3_bucket!r} at {s.s3_endpoint_url or 'AWS'}: {type(exc).__name__}: {exc}")

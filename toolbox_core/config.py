"""Typed configuration.

Values come from, in order of precedence:

1. environment variables with the ``TOOLBOX_`` prefix; nested sections use ``__``
   (``TOOLBOX_STORAGE__BACKEND=s3``, ``TOOLBOX_PAYME__MERCHANT_ID=...``);
2. a TOML file: ``toolbox.toml`` in the working folder, or the path in ``TOOLBOX_CONFIG``;
3. the defaults below, which describe the embedded mode (SQLite, local files, in-process jobs).

Plugin sections (``[payme]`` in TOML, ``TOOLBOX_PAYME__*`` in the environment) are not part of
:class:`Settings`; each plugin validates its own section with its own model, see
:func:`load_plugin_settings`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from toolbox_core.texts import SHIPPING_NAMES, LocalizedText

ENV_PREFIX = "TOOLBOX_"
#: The public placeholder secret of the embedded mode; refused outside it.
DEFAULT_SECRET_KEY = "embedded-insecure-secret-change-me"
#: The shortest ``auth.secret_key`` accepted outside the embedded mode.
MIN_SECRET_KEY_LENGTH = 32
ENV_NESTED = "__"
DEFAULT_CONFIG_FILE = "toolbox.toml"


class StorageSettings(BaseModel):
    """Where uploaded files (product images) live."""

    backend: Literal["local", "s3"] = "local"
    local_path: str = "./media"
    #: Public base URL for local files; the app serves them under /media by default.
    local_base_url: str = "/media"
    s3_bucket: str = "toolbox"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    #: When set, objects are public and URLs are built from it; otherwise URLs are presigned.
    s3_public_base_url: str | None = None
    presign_ttl_seconds: int = Field(3600, gt=0)
    max_upload_bytes: int = Field(10 * 1024 * 1024, gt=0)


class SearchSettings(BaseModel):
    """Full-text search: Meilisearch when ``meilisearch_url`` is set, the database otherwise."""

    meilisearch_url: str | None = None
    meilisearch_api_key: SecretStr | None = None
    index_prefix: str = "toolbox_"


#: What a cookie name set in the configuration may be: an RFC 6265 token (no separators).
COOKIE_NAME_PATTERN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$"


class CartSettings(BaseModel):
    """Cart cookie and lifetime."""

    #: A cookie name: an RFC 6265 token (it is written into ``Set-Cookie`` as is).
    cookie_name: str = Field("toolbox_cart", pattern=COOKIE_NAME_PATTERN)
    #: Unset: ``Secure`` outside the embedded mode and debug (resolved when settings load).
    cookie_secure: bool | None = None
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    cookie_max_age_seconds: int = Field(30 * 24 * 3600, gt=0)
    ttl_days: int = Field(30, gt=0)
    max_quantity_per_line: int = Field(1000, gt=0)
    max_lines: int = Field(200, gt=0)
    #: PostgreSQL: a cart edit is answered once committed, without waiting for the WAL flush
    #: (``synchronous_commit = off`` for that statement only). A crash of the database server may
    #: lose the last fraction of a second of cart edits (the shopper adds the line again); orders,
    #: payments and stock are always durable, and placing an order makes its cart's edits durable
    #: too. ``false``: every cart edit waits for the disk (about one flush per request).
    async_commit: bool = True


class CheckoutSettings(BaseModel):
    """Checkout and payment timing."""

    #: Unpaid online orders are canceled (stock released) after this long. Payme's limit is 12 h.
    payment_timeout_seconds: int = Field(12 * 3600, gt=0)
    #: Flat-rate shipping provider: price in tiyin; ``None`` disables it.
    flat_shipping_price: int | None = Field(2_500_000, ge=0)
    #: Names of the kernel's shipping options per locale (``{"ru": "Курьер", "uz": "Kuryer"}``);
    #: a plain string is the name in every locale.
    flat_shipping_name: LocalizedText = Field(default_factory=lambda: dict(SHIPPING_NAMES["flat"]))
    pickup_shipping_name: LocalizedText = Field(default_factory=lambda: dict(SHIPPING_NAMES["pickup"]))
    #: Fiscal codes of the delivery service on receipts (Payme's ``detail.shipping``, Click):
    #: the MXIK/IKPU code (17 digits, tasnif.soliq.uz), its package code and VAT percent.
    shipping_mxik_code: str | None = Field(None, pattern=r"^\d{17}$")
    shipping_package_code: str | None = Field(None, min_length=1, max_length=32)
    shipping_vat_percent: int | None = Field(None, ge=0, le=100)
    #: Each shipping provider has this long to quote a cart; a slower one is left out (logged).
    shipping_quote_timeout_seconds: float = Field(5.0, gt=0, le=60)

    @field_validator("flat_shipping_name", "pickup_shipping_name")
    @classmethod
    def _bounded_names(cls, value: LocalizedText) -> LocalizedText:
        texts = [value] if isinstance(value, str) else list(value.values())
        if not texts or len(texts) > 20 or any(not t.strip() or len(t) > 200 for t in texts):
            raise ValueError("a shipping option name is 1 to 200 characters, in each locale")
        return value


class AuthSettings(BaseModel):
    """Phone + one-time-code sign-in."""

    otp_ttl_seconds: int = Field(15 * 60, gt=0)
    otp_max_attempts: int = Field(5, gt=0)
    otp_resend_seconds: int = Field(60, ge=0)
    otp_max_per_hour: int = Field(5, gt=0)
    otp_max_per_ip_per_hour: int = Field(30, gt=0)
    #: Code checks (``/store/otp/verify``) per address (IPv6 per /64) per hour, whatever the
    #: phone: one address cannot guess codes across many phones. Over it: 429 ``rate_limited``.
    otp_verify_max_per_ip_per_hour: int = Field(60, gt=0)
    #: Which OTP sender delivers codes (an id from the ``otp_senders`` hook).
    otp_sender: str = "log"
    verification_ttl_seconds: int = Field(15 * 60, gt=0)
    session_ttl_seconds: int = Field(30 * 24 * 3600, gt=0)
    session_cookie_name: str = Field("toolbox_session", pattern=COOKIE_NAME_PATTERN)
    #: Unset: ``Secure`` outside the embedded mode and debug (resolved when settings load).
    session_cookie_secure: bool | None = None
    session_cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    #: Addresses a customer may keep.
    max_addresses: int = Field(20, gt=0)
    #: Secret used to derive hashes of codes and tokens. Set it in production.
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    #: Codes sent per minute by the whole store (every phone and address): a flood from many
    #: addresses cannot run up the SMS bill. Over it: 429 ``otp_busy``.
    otp_max_per_minute: int = Field(100, gt=0)
    #: Failed code checks per phone per 24 h, across all its codes; then the phone is locked
    #: (429) until the day's window ends.
    otp_max_failed_per_day: int = Field(20, gt=0)
    #: Guest order lookups (``GET /store/orders/{id}?phone=``) per order and per address, per hour.
    order_lookup_max_per_hour: int = Field(10, gt=0)
    order_lookup_max_per_ip_per_hour: int = Field(60, gt=0)


class HttpSettings(BaseModel):
    """Limits applied to every request before any parsing or authentication."""

    #: Largest request body (JSON, forms, webhooks); multipart uploads get ``storage.max_upload_bytes``.
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    #: Reverse proxies (addresses or networks, ``10.0.0.0/8``) whose ``X-Forwarded-For`` and
    #: ``X-Forwarded-Proto`` are believed. The client is the rightmost untrusted hop. Empty: the
    #: direct peer is the client (serving without a proxy).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        networks = []
        for entry in value:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network; write e.g. 10.0.0.5 or "
                                 "10.0.0.0/8") from None
            if network.prefixlen == 0:
                raise ValueError(f"{entry!r} trusts every address: any client could pick its own IP "
                                 "and dodge the rate limits; list your proxies' addresses")
            networks.append(str(network))
        return networks

    #: Run the short, database-only work of the hot routes (gateway callbacks, cart edits) on the
    #: worker's event loop instead of a worker thread (``toolbox_core/threads.py``): no thread
    #: trip (about 25% more Payme callbacks per second on 2 cores). Meanwhile that worker serves
    #: nothing else. Off: one thread trip per such request.
    inline_db_work: bool = True


class JobsSettings(BaseModel):
    """Events, jobs and schedules."""

    #: Run Dramatiq workers inside ``toolbox serve`` (the embedded default when Redis is unset).
    in_process_workers: bool | None = None
    worker_threads: int = Field(4, gt=0)
    max_retries: int = Field(5, ge=0)
    min_backoff_ms: int = Field(500, ge=0)
    max_backoff_ms: int = Field(5 * 60 * 1000, ge=0)
    relay_poll_interval_ms: int = Field(200, gt=0)
    relay_batch_size: int = Field(500, gt=0)
    #: How long a dispatched delivery belongs to its worker before the relay sends it again.
    delivery_lease_ms: int = Field(60_000, gt=0)
    #: Messages a worker process takes from Redis ahead of its threads (Dramatiq's default of
    #: 2 per thread starves busy workers: the consumer backs off while acks wait).
    worker_prefetch: int = Field(256, gt=0)
    #: Delivered events are deleted after this many days (parked deliveries are kept).
    event_retention_days: int = Field(7, gt=0)
    #: Prefix of every Redis key the kernel writes: broker, scheduler locks, key store (codes,
    #: rate limits, leases, plugins' tokens). Give each store sharing a Redis its own.
    redis_namespace: str = Field("toolbox", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    #: Interval (seconds) per scheduled job name, replacing the job's own (e.g. ``{"moysklad.sync": 600}``).
    intervals: dict[str, int] = Field(default_factory=dict)
    #: Expiry of a job lease; the holder renews it every third of this while it runs.
    lease_seconds: float = Field(60.0, gt=0)
    #: A worker process silent this long (ms) counts as dead: its unfinished messages are requeued.
    redis_heartbeat_timeout_ms: int = Field(60_000, ge=5_000)
    #: Chance per million broker commands of running that requeue (Dramatiq's default is 1000).
    redis_maintenance_chance: int = Field(1000, ge=1, le=1_000_000)
    #: A worker consuming Redis writes a heartbeat this often (s); it expires after 3 intervals
    #: (``/ready`` then says ``worker: missing``, ``toolbox doctor`` warns).
    worker_heartbeat_seconds: int = Field(10, ge=1, le=3600)


class NotificationsSettings(BaseModel):
    """Notification texts and channels (see :mod:`toolbox_core.notifications.templates`)."""

    #: Texts per template and locale, winning over the kernel's and plugins' defaults:
    #: ``{"order.placed": {"ru": "Заказ {number} принят", "uz": "..."}}``.
    templates: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: The channel id per kind when several are enabled: ``{"sms": "eskiz"}``.
    channels: dict[str, str] = Field(default_factory=dict)

    @field_validator("templates")
    @classmethod
    def _renderable(cls, texts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        from toolbox_core.notifications.templates import check_templates

        check_templates(texts)
        return texts


class InventorySettings(BaseModel):
    """Stock sync from inventory sources (``toolbox_core.inventory.sync``)."""

    #: Levels written per transaction (one bulk statement each) when a source is synced.
    sync_batch_size: int = Field(1000, ge=1, le=10_000)
    #: How long a source (MoySklad) may take to learn of a sale made here. A sale converted
    #: less than this long before the source's figures were taken is subtracted from them, so
    #: an absolute count that does not include it yet never puts sold goods back on sale.
    sales_lag_seconds: int = Field(3600, ge=0, le=7 * 24 * 3600)


class Settings(BaseSettings):
    """The kernel's configuration. ``toolbox config`` prints it with the source of each value."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED,
        extra="ignore",
        case_sensitive=False,
    )

    #: SQLAlchemy URL. Embedded default: a SQLite file in the working folder.
    database_url: str = "sqlite:///./toolbox.db"
    #: Redis for the key store, rate limits and the Dramatiq broker. Unset: embedded mode.
    redis_url: str | None = None
    #: Names of the installed plugins to enable, e.g. ``TOOLBOX_PLUGINS=payme,click``.
    plugins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    default_locale: str = "ru"
    locales: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["ru", "uz"])
    currency: Literal["UZS"] = "UZS"
    debug: bool = False
    #: Log every plugin hook call (name, plugin, duration) at DEBUG level.
    trace_hooks: bool = False
    log_level: str = "INFO"
    #: Origins allowed to call the store API from a browser (exact origins; ``*`` is refused
    #: because the store API uses credentials).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Origins of the storefront(s): a checkout ``return_url`` must start with one of them.
    #: Unset: the ``cors_origins``.
    storefront_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Public address of the API, e.g. ``https://api.shop.uz``: absolute image URLs are built
    #: from it. Unset: from the address each request came to (its ``Host``); set it in production.
    public_base_url: str | None = None

    storage: StorageSettings = Field(default_factory=StorageSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    cart: CartSettings = Field(default_factory=CartSettings)
    checkout: CheckoutSettings = Field(default_factory=CheckoutSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    inventory: InventorySettings = Field(default_factory=InventorySettings)
    notifications: NotificationsSettings = Field(default_factory=NotificationsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    #: ``Cache-Control: max-age`` of the store's catalog reads (list, detail, categories), for
    #: a CDN or the browser; 0 (default): ``no-cache``, every use revalidates with the ETag.
    store_cache_seconds: int = Field(0, ge=0, le=86_400)
    #: Seconds an API process serves a cached store page (list, detail, search) without asking
    #: the database: displayed stock, and a change made through another process, may lag this
    #: much (checkout always checks real stock; this process's own catalog writes show at once).
    #: 0: every read checks the version and live stock (one small statement).
    store_fresh_seconds: float = Field(1.0, ge=0, le=60)
    #: Pooled PostgreSQL connections per process (default: one per request thread the process
    #: runs at once, so no request waits for or opens a connection; see ``db/engine.py``).
    database_pool_size: int | None = Field(None, ge=1, le=1000)
    #: PostgreSQL ``lock_timeout`` of every connection, in ms: a statement that waits longer for a
    #: row or table lock fails (a request answers 503 ``database_busy``) instead of holding its
    #: worker. 0: wait without limit.
    database_lock_timeout_ms: int = Field(5000, ge=0, le=600_000)

    @field_validator("plugins", "locales", "cors_origins", "storefront_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins", "storefront_origins")
    @classmethod
    def _exact_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if "*" in origin:
                raise ValueError(
                    f"{origin!r}: wildcards are refused (the store API sends credentials, so any "
                    "site could act as the signed-in shopper); list exact origins such as "
                    "https://shop.example.uz"
                )
            if not origin.startswith(("http://", "https://")) or origin.rstrip("/").count("/") > 2:
                raise ValueError(f"{origin!r} is not an origin; write scheme://host[:port], e.g. https://shop.example.uz")
        return [origin.rstrip("/") for origin in value]

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"{value!r} is not a base URL; write scheme://host[:port][/path], e.g. https://api.shop.uz")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _cookie_flags(self) -> Settings:
        # Secure cookies by default wherever the store is not a local embedded trial.
        secure_default = not (self.is_embedded or self.debug)
        for section, prefix in ((self.auth, "session_cookie"), (self.cart, "cookie")):
            if getattr(section, f"{prefix}_secure") is None:
                setattr(section, f"{prefix}_secure", secure_default)
            if getattr(section, f"{prefix}_samesite") == "none" and not getattr(section, f"{prefix}_secure"):
                name = "AUTH" if section is self.auth else "CART"
                raise ValueError(
                    f"TOOLBOX_{name}__{prefix.upper()}_SAMESITE=none needs "
                    f"TOOLBOX_{name}__{prefix.upper()}_SECURE=true (browsers drop such cookies "
                    "otherwise); use lax, or serve over HTTPS with secure cookies"
                )
        return self

    @field_validator("database_url")
    @classmethod
    def _normalize_db_url(cls, value: str) -> str:
        # psycopg 3 is our PostgreSQL driver; accept the plain URL forms people paste.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("default_locale")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_embedded(self) -> bool:
        """The embedded mode: SQLite and no Redis (a local trial, one machine)."""
        return self.is_sqlite and self.redis_url is None

    @property
    def return_url_origins(self) -> list[str]:
        """Origins a checkout ``return_url`` may point to (``storefront_origins``, else CORS)."""
        return self.storefront_origins or self.cors_origins

    def secret_key_problem(self) -> str | None:
        """Why ``auth.secret_key`` is unsafe (the public default, or too short), or ``None``."""
        key = self.auth.secret_key.get_secret_value()
        if key == DEFAULT_SECRET_KEY:
            return "insecure default: auth.secret_key is the public placeholder"
        if len(key) < MIN_SECRET_KEY_LENGTH:
            return f"insecure: auth.secret_key is shorter than {MIN_SECRET_KEY_LENGTH} characters"
        return None

    def check_safe_to_serve(self) -> None:
        """Refuse settings that are unsafe outside the embedded mode (called when a server or
        worker starts); :class:`ConfigError` says what to set."""
        problem = self.secret_key_problem()
        if problem and not self.is_embedded:
            raise ConfigError(
                f"TOOLBOX_AUTH__SECRET_KEY: {problem}; PostgreSQL or Redis is configured, so this is "
                f"not a local trial: set a random key of at least {MIN_SECRET_KEY_LENGTH} characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )

    @property
    def embedded_jobs(self) -> bool:
        """True when Dramatiq workers run inside the API process (no Redis configured)."""
        if self.jobs.in_process_workers is not None:
            return self.jobs.in_process_workers
        return self.redis_url is None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    # ------------------------------------------------------------------ helpers
    def __repr_args__(self) -> Any:
        masked = self.masked()
        return [(key, masked[key]) for key in type(self).model_fields]

    def masked(self) -> dict[str, Any]:
        """The settings as a dict with every secret replaced by ``"********"``."""
        return _mask(self.model_dump(mode="python"))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the kernel's keys from the TOML config file (plugin sections are ignored here)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = read_config_file()
        return {k: v for k, v in data.items() if k in self.settings_cls.model_fields}


def config_file_path() -> Path:
    """The TOML config file in effect (it may not exist)."""
    return Path(os.environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG_FILE))


def read_config_file() -> dict[str, Any]:
    """Parse the TOML config file; an absent file is an empty config."""
    path = config_file_path()
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


class ConfigError(Exception):
    """Configuration that cannot be used; the message says what to change."""


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings` from environment and file, raising :class:`ConfigError` on bad values."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, section=None)) from exc


def env_var_name(*path: str | int) -> str:
    """``env_var_name("payme", "merchant_id") == "TOOLBOX_PAYME__MERCHANT_ID"``."""
    return ENV_PREFIX + ENV_NESTED.join(str(p).upper() for p in path)


def describe_validation_error(exc: ValidationError, section: str | None) -> str:
    """Turn a pydantic error into lines naming the environment variable to set."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        path = [section, *loc] if section else loc
        var = env_var_name(*path) if path else ""
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "is required but not set"
        lines.append(f"{var}: {msg}" if var and not msg.startswith(ENV_PREFIX) else msg)
    return "; ".join(lines)


# ---------------------------------------------------------------------- plugin sections
def plugin_section_raw(name: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Collect the raw values of plugin section ``name`` from the TOML file and the environment.

    Environment variables win over the file; ``TOOLBOX_PAYME__MERCHANT_ID`` becomes
    ``{"merchant_id": ...}`` and deeper ``__`` levels become nested dicts.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = dict(read_config_file().get(name, {}) or {})
    prefix = env_var_name(name) + ENV_NESTED
    for key, value in environ.items():
        if not key.upper().startswith(prefix):
            continue
        parts = key[len(prefix) :].lower().split(ENV_NESTED)
        target = data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return data


def load_plugin_settings(name: str, model: type[BaseModel], overrides: dict[str, Any] | None = None) -> BaseModel:
    """Validate plugin ``name``'s section with its own ``model``; :class:`ConfigError` names the variables.

    ``overrides`` (top-level keys) win over the file and the environment.
    """
    try:
        return model.model_validate({**plugin_section_raw(name), **(overrides or {})})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, section=name)) from exc


# ---------------------------------------------------------------------- provenance
@dataclass(frozen=True)
class ConfigValue:
    """One effective setting, for ``toolbox config``."""

    key: str
    value: Any
    source: str


def explain(settings: Settings, plugin_models: dict[str, BaseModel] | None = None) -> list[ConfigValue]:
    """Every effective value (secrets masked) with where it came from: env, file or default."""
    file_data = read_config_file()
    env_names = {k.upper() for k in os.environ}
    rows: list[ConfigValue] = []

    def walk(prefix: tuple[str, ...], value: Any, file_node: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                sub = file_node.get(k) if isinstance(file_node, dict) else None
                walk((*prefix, k), v, sub)
            return
        var = env_var_name(*prefix)
        if var in env_names:
            source = f"env {var}"
        elif file_node is not None:
            source = f"file {config_file_path()}"
        else:
            source = "default"
        rows.append(ConfigValue(".".join(prefix), value, source))

    walk((), settings.masked(), file_data)
    problem = settings.secret_key_problem()
    if problem:
        rows = [ConfigValue(r.key, f"{r.value} ({problem.partition(':')[0]})", r.source)
                if r.key == "auth.secret_key" else r for r in rows]
    for name, model in (plugin_models or {}).items():
        walk((name,), _mask(model.model_dump(mode="python")), file_data.get(name))
    return rows


_SECRET_WORDS = ("password", "secret", "token", "api_key", "private_key", "access_key")


def _mask(data: Any, key: str = "") -> Any:
    if isinstance(data, dict):
        return {k: _mask(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask(v, key) for v in data]
    if isinstance(data, SecretStr):
        return "********" if data.get_secret_value() else ""
    if data and any(word in key.lower() for word in _SECRET_WORDS):
        return "********"
    if isinstance(data, str) and "://" in data and "@" in data:
        return mask_url(data)
    return data


def mask_url(url: str) -> str:
    """Hide the password in a URL such as ``postgresql://user:pw@host/db``."""
    scheme, _, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:********@{host}"

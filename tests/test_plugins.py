"""The plugin system: discovery from installed metadata, enabling, and every start-up error."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from toolbox_core.app import create_app
from toolbox_core.config import Settings
from toolbox_core.kernel import Toolbox
from toolbox_core.plugins import PluginError, PluginManager, discover

REPO = Path(__file__).resolve().parent.parent

GOOD_PLUGIN = """
from pydantic import BaseModel
from toolbox_core.api import hookimpl

KERNEL_API = ">=1.0,<2"

class Settings(BaseModel):
    api_token: str
    region: str = "Tashkent"

@hookimpl
def settings_model():
    return Settings
"""


def make_settings(url: str, plugins: list[str]) -> Settings:
    return Settings(database_url=url, plugins=plugins)


# ------------------------------------------------------------------------------ discovery
def test_example_plugin_is_discovered_from_pip_installed_metadata(tmp_path: Path) -> None:
    """pip installs plugins/example into an empty target; a fresh interpreter that has only that
    target on its path (no source folder) discovers it through the entry-point group."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(REPO / "plugins/example")],
        check=True,
    )
    assert (target / "toolbox_example-0.1.1.dist-info" / "entry_points.txt").is_file()
    probe = textwrap.dedent(
        f"""
        import sys
        sys.path = [p for p in sys.path if "plugins/example" not in p]
        sys.path.insert(0, {str(target)!r})
        from toolbox_core.plugins import discover
        ep = discover()["example"]
        module = ep.load()
        print(ep.dist.metadata["Name"], ep.dist.version, module.__file__)
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "toolbox-example"
    assert out[1] == "0.1.1"
    assert out[2].startswith(str(target))


def test_installed_integrations_are_discovered_with_their_distribution() -> None:
    found = discover()
    for name in ("payme", "click", "bts", "eskiz", "moysklad", "example"):
        assert name in found, f"{name} not discovered"
        assert found[name].dist.metadata["Name"] == f"toolbox-{name}"


def test_installed_but_not_enabled_plugin_is_not_imported(sqlite_url: str) -> None:
    probe = textwrap.dedent(
        f"""
        import sys
        from toolbox_core.config import Settings
        from toolbox_core.kernel import Toolbox
        tb = Toolbox.create(Settings(database_url={sqlite_url!r}, plugins=[]))
        assert "toolbox_example.plugin" not in sys.modules
        assert tb.plugins.plugins["example"].enabled is False
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


#: Imported by the app's routers and the services, never by ``Toolbox.create`` (start-up cost).
DOMAIN_MODULES = ("toolbox_core.orders.models", "toolbox_core.catalog.models", "toolbox_core.cart.service",
                  "toolbox_core.orders.service", "toolbox_core.admin.auth", "toolbox_core.events.models",
                  "toolbox_core.workflows.payments", "typer")


def test_discovery_and_wiring_import_no_domain_until_the_app_is_built(sqlite_url: str) -> None:
    """A plugin importing from ``toolbox_core.api`` and the built-in plugins cost no domain
    imports at ``Toolbox.create``; the app build and a lazy name's first use import them."""
    probe = textwrap.dedent(
        f"""
        import sys
        from toolbox_core.config import Settings
        from toolbox_core.kernel import Toolbox
        from toolbox_core.api import hookimpl, ShippingQuote, Toolbox as PublicToolbox
        tb = Toolbox.create(Settings(database_url={sqlite_url!r}, plugins=[]))
        print(sorted(m for m in {DOMAIN_MODULES!r} if m in sys.modules))
        from toolbox_core import api
        assert api.CartService.__module__ == "toolbox_core.cart.service"
        from toolbox_core.app import create_app
        create_app(toolbox=tb)
        print(sorted(m for m in {DOMAIN_MODULES!r} if m not in sys.modules and m != "typer"))
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.split("\n")[:2] == ["[]", "[]"], out.stdout + out.stderr


def test_hook_register_routes_and_shipping_providers_of_an_enabled_plugin_are_wired(sqlite_url: str, clean_env: Path) -> None:
    toolbox = Toolbox.create(make_settings(sqlite_url, ["example"]))
    assert "example_courier" in toolbox.shipping_providers
    assert toolbox.plugins.plugins["example"].hooks == ["register_routes", "settings_model", "shipping_providers"]
    with TestClient(create_app(toolbox=toolbox)) as client:
        assert client.get("/store/example/courier/regions").json() == {"regions": ["Tashkent", "Toshkent"]}


def test_hook_settings_model_validates_the_plugin_section_from_environment(sqlite_url: str, clean_env: Path, monkeypatch, plugin_site) -> None:
    plugin_site.install("acme", GOOD_PLUGIN)
    monkeypatch.setenv("TOOLBOX_ACME__API_TOKEN", "s3cret")
    toolbox = Toolbox.create(make_settings(sqlite_url, ["acme"]))
    assert toolbox.plugin_settings("acme").api_token == "s3cret"
    assert toolbox.plugin_settings("acme").region == "Tashkent"


def test_plugin_settings_come_from_the_toml_file(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("acme", GOOD_PLUGIN)
    (clean_env / "toolbox.toml").write_text('[acme]\napi_token = "from-file"\nregion = "Samarqand"\n')
    toolbox = Toolbox.create(make_settings(sqlite_url, ["acme"]))
    assert toolbox.plugin_settings("acme").region == "Samarqand"


# ------------------------------------------------------------------------------ start-up errors
def test_unknown_plugin_name_lists_what_is_installed(sqlite_url: str, clean_env: Path) -> None:
    with pytest.raises(PluginError) as err:
        Toolbox.create(make_settings(sqlite_url, ["paymee"]))
    message = str(err.value)
    assert "'paymee'" in message and "not installed" in message
    assert "payme" in message.split("installed plugins:")[1]


def test_plugin_whose_import_fails_reports_the_cause(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("broken", "import toolbox_core.api\nraise RuntimeError('missing native library libfoo')\n")
    with pytest.raises(PluginError) as err:
        Toolbox.create(make_settings(sqlite_url, ["broken"]))
    assert "'broken'" in str(err.value)
    assert "RuntimeError: missing native library libfoo" in str(err.value)


@pytest.mark.parametrize(
    ("declared", "expected"),
    [(">=2.0", "supports kernel API >=2.0 but this kernel offers 1.1"), ("<1.0", "supports kernel API <1.0")],
)
def test_plugin_for_another_kernel_api_is_refused(sqlite_url: str, clean_env: Path, plugin_site, declared: str, expected: str) -> None:
    plugin_site.install("future", f"KERNEL_API = {declared!r}\n")
    with pytest.raises(PluginError) as err:
        Toolbox.create(make_settings(sqlite_url, ["future"]))
    assert expected in str(err.value)


def test_plugin_without_kernel_api_declaration_is_refused(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("vague", "X = 1\n")
    with pytest.raises(PluginError, match="declares no KERNEL_API"):
        Toolbox.create(make_settings(sqlite_url, ["vague"]))


def test_missing_plugin_setting_names_the_environment_variable(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("acme", GOOD_PLUGIN)
    with pytest.raises(PluginError) as err:
        Toolbox.create(make_settings(sqlite_url, ["acme"]))
    assert "TOOLBOX_ACME__API_TOKEN: is required but not set" in str(err.value)


def test_invalid_plugin_setting_names_the_environment_variable(sqlite_url: str, clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOOLBOX_EXAMPLE__PRICE_PER_KG", "-5")
    with pytest.raises(PluginError) as err:
        Toolbox.create(make_settings(sqlite_url, ["example"]))
    assert "TOOLBOX_EXAMPLE__PRICE_PER_KG" in str(err.value)


#: A plugin whose shipping provider takes the example plugin's id.
CLASHING_COURIER = """
    from toolbox_core.api import hookimpl
    KERNEL_API = ">=1.0"
    class Courier:
        id = "example_courier"
        name = "Clash"
        def quote(self, cart):
            return []
    @hookimpl
    def shipping_providers(toolbox):
        return [Courier()]
"""


def test_two_plugins_claiming_one_provider_id_are_refused(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("clash", CLASHING_COURIER)
    with pytest.raises(PluginError) as err:
        Toolbox.create(make_settings(sqlite_url, ["example", "clash"]))
    assert "'example_courier' is already provided by plugin 'example'" in str(err.value)


def test_two_plugins_claiming_one_route_are_refused(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    clash = """
    from fastapi import APIRouter
    from toolbox_core.api import hookimpl
    KERNEL_API = ">=1.0"
    @hookimpl
    def register_routes(toolbox):
        router = APIRouter(prefix="/store/example")
        @router.get("/courier/regions")
        def regions():
            return {}
        return [router]
    """
    plugin_site.install("routeclash", clash)
    toolbox = Toolbox.create(make_settings(sqlite_url, ["example", "routeclash"]))
    with pytest.raises(PluginError) as err:
        create_app(toolbox=toolbox)
    assert "GET /store/example/courier/regions is already registered by 'example'" in str(err.value)


def test_plugin_with_an_invalid_hook_implementation_is_refused(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("typo", 'from toolbox_core.api import hookimpl\nKERNEL_API=">=1"\n@hookimpl\ndef payment_provider(toolbox):\n    return []\n')
    with pytest.raises(PluginError, match="invalid hook implementation"):
        Toolbox.create(make_settings(sqlite_url, ["typo"]))


def test_start_up_raises_at_the_first_plugin_that_cannot_be_loaded(sqlite_url: str, clean_env: Path) -> None:
    with pytest.raises(PluginError) as err:
        Toolbox.create(make_settings(sqlite_url, ["payme", "click"]))
    assert err.value.plugin == "payme"


def test_with_plugin_errors_every_failing_plugin_is_recorded_and_left_out(
        sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("broken", "import toolbox_core.api\nraise RuntimeError('missing native library libfoo')\n")
    errors: list[PluginError] = []
    toolbox = Toolbox.create(make_settings(sqlite_url, ["payme", "broken", "example", "click"]), plugin_errors=errors)
    assert [e.plugin for e in errors] == ["broken", "payme", "click"]  # imports first, then settings
    plugins = toolbox.plugins
    assert {n: plugins.plugins[n].enabled for n in ("payme", "broken", "example", "click")} == {
        "payme": False, "broken": False, "example": True, "click": False}
    assert plugins.pm.get_plugin("payme") is None and plugins.pm.get_plugin("click") is None
    assert "payme" not in plugins.settings and "example" in plugins.settings
    assert "payme" not in toolbox.payment_providers  # none of its hooks run
    toolbox.close()


def test_with_plugin_errors_a_provider_clash_is_recorded_too(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("clash", CLASHING_COURIER)
    errors: list[PluginError] = []
    toolbox = Toolbox.create(make_settings(sqlite_url, ["example", "clash"]), plugin_errors=errors)
    assert ["'example_courier' is already provided by plugin 'example'" in str(e) for e in errors] == [True]
    toolbox.close()


# ------------------------------------------------------------------------------ calling hooks
def test_hook_startup_may_be_async_and_runs_with_the_app_lifespan(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install(
        "lifecycle",
        """
        import asyncio
        from toolbox_core.api import hookimpl
        KERNEL_API = ">=1.0"
        calls = []
        @hookimpl
        async def startup(toolbox):
            await asyncio.sleep(0)
            calls.append("startup")
        @hookimpl
        def shutdown(toolbox):
            calls.append("shutdown")
        """,
    )
    toolbox = Toolbox.create(make_settings(sqlite_url, ["lifecycle"]))
    module = sys.modules["toolbox_fake_lifecycle"]
    with TestClient(create_app(toolbox=toolbox)):
        assert module.calls == ["startup"]
    assert module.calls == ["startup", "shutdown"]


def test_hook_shutdown_runs_even_when_startup_of_another_plugin_is_sync(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install(
        "closer",
        """
        from toolbox_core.api import hookimpl
        KERNEL_API = ">=1.0"
        closed = []
        @hookimpl
        async def shutdown(toolbox):
            closed.append(toolbox.settings.database_url)
        """,
    )
    toolbox = Toolbox.create(make_settings(sqlite_url, ["closer", "example"]))
    with TestClient(create_app(toolbox=toolbox)):
        pass
    assert sys.modules["toolbox_fake_closer"].closed == [sqlite_url]


PROVIDERS_PLUGIN = """
from toolbox_core.api import hookimpl, StockLevel
KERNEL_API = ">=1.0"

class Sms:
    id = "fake_sms"
    kind = "sms"
    def send(self, notification):
        return "msg-1"

class Otp:
    id = "fake_otp"
    def send_code(self, phone, code, ttl, locale):
        return None

class Stock:
    id = "fake_stock"
    def fetch_levels(self):
        return [StockLevel(sku="DRL-18", quantity=7)]

@hookimpl
def notification_channels(toolbox):
    return [Sms()]

@hookimpl
def otp_senders(toolbox):
    return [Otp()]

@hookimpl
def inventory_sources(toolbox):
    return [Stock()]
"""


def test_hook_notification_channels_are_indexed_by_id(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("providers", PROVIDERS_PLUGIN)
    toolbox = Toolbox.create(make_settings(sqlite_url, ["providers"]))
    assert toolbox.notification_channels["fake_sms"].kind == "sms"


def test_hook_otp_senders_are_indexed_by_id(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("providers", PROVIDERS_PLUGIN)
    toolbox = Toolbox.create(make_settings(sqlite_url, ["providers"]))
    assert "fake_otp" in toolbox.otp_senders


def test_hook_inventory_sources_are_indexed_by_id(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install("providers", PROVIDERS_PLUGIN)
    toolbox = Toolbox.create(make_settings(sqlite_url, ["providers"]))
    levels = list(toolbox.inventory_sources["fake_stock"].fetch_levels())
    assert levels[0].sku == "DRL-18" and levels[0].quantity == 7


def test_hook_payment_providers_may_be_async_and_are_resolved_for_sync_callers(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install(
        "asyncpay",
        """
        from toolbox_core.api import hookimpl, PaymentAction
        KERNEL_API = ">=1.0"
        class Pay:
            id = "async_pay"
            name = "Async"
            online = True
            async def initiate(self, request):
                return PaymentAction(kind="redirect", url="https://pay.example/x")
            def refund(self, payment_id, amount):
                raise NotImplementedError
        @hookimpl
        async def payment_providers(toolbox):
            return [Pay()]
        """,
    )
    toolbox = Toolbox.create(make_settings(sqlite_url, ["asyncpay"]))
    assert "async_pay" in toolbox.payment_providers


def test_hook_tracing_logs_each_call(sqlite_url: str, clean_env: Path, caplog) -> None:
    caplog.set_level("DEBUG", logger="toolbox.plugins")
    settings = make_settings(sqlite_url, ["example"]).model_copy(update={"trace_hooks": True})
    Toolbox.create(settings)
    assert any("hook shipping_providers on example took" in r.getMessage() for r in caplog.records)


def test_builtin_features_register_through_the_same_manager() -> None:
    manager = PluginManager()
    manager.load([])
    builtins = [p for p in manager.plugins.values() if p.builtin]
    assert builtins, "the kernel registers its own features as plugins"
    assert all(manager.pm.get_plugin(p.name) is not None for p in builtins)


def test_hook_shipping_providers_price_options_from_the_cart(sqlite_url: str, clean_env: Path) -> None:
    from toolbox_core.providers import Address, CartView, LineView, is_local

    toolbox = Toolbox.create(make_settings(sqlite_url, ["example"]))
    courier = toolbox.shipping_providers["example_courier"]
    line = LineView(variant_id="v1", sku="DRL-18", title="Drill", quantity=2, unit_price=100_000_00, weight_grams=1_600)
    cart = CartView(id="c1", locale="ru", lines=(line,), subtotal=200_000_00, address=Address(region="Tashkent", city="Tashkent"))
    [quote] = courier.quote(cart)
    assert quote.amount == 1_500_000 + 4 * 200_000  # 3.2 kg → 4 started kilograms
    assert is_local(courier, "quote")  # priced from settings: quoted on the event loop
    elsewhere = CartView(id="c2", locale="ru", lines=(line,), subtotal=1, address=Address(region="Xorazm", city="Urganch"))
    assert courier.quote(elsewhere) == []
    unweighed = LineView(variant_id="v2", sku="GLV-1", title="Gloves", quantity=1, unit_price=1, weight_grams=None)
    mixed = CartView(id="c3", locale="ru", lines=(line, unweighed), subtotal=1,
                     address=Address(region="Tashkent", city="Tashkent"))
    [quote] = courier.quote(mixed)  # a line without a weight is not an error
    assert quote.amount == 1_500_000 + 4 * 200_000


def test_providers_refuse_to_be_called_inside_a_database_transaction(sqlite_url: str, clean_env: Path) -> None:
    from toolbox_core.plugins.guard import ProviderCalledInTransaction
    from toolbox_core.providers import CartView, ShippingProvider

    toolbox = Toolbox.create(make_settings(sqlite_url, ["example"]))
    courier = toolbox.shipping_providers["example_courier"]
    assert isinstance(courier, ShippingProvider)
    assert courier.id == "example_courier"
    cart = CartView(id="c1", locale="ru", lines=(), subtotal=0)
    assert courier.quote(cart) == []
    with toolbox.db.transaction(), pytest.raises(ProviderCalledInTransaction, match="example_courier"):
        courier.quote(cart)
    assert courier.quote(cart) == []  # fine again once committed


def test_a_plugin_cannot_take_over_a_kernel_route(sqlite_url: str, clean_env: Path, plugin_site) -> None:
    plugin_site.install(
        "hijack",
        """
        from fastapi import APIRouter
        from toolbox_core.api import hookimpl
        KERNEL_API = ">=1.0"
        @hookimpl
        def register_routes(toolbox):
            router = APIRouter()
            @router.get("/health")
            def fake_health():
                return {"status": "hijacked"}
            return [router]
        """,
    )
    toolbox = Toolbox.create(make_settings(sqlite_url, ["hijack"]))
    with pytest.raises(PluginError, match="GET /health is already registered by 'toolbox-core'"):
        create_app(toolbox=toolbox)

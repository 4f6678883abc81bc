"""Where a provider is called from a store request: a provider that declares ``local = True``
(nothing outside the process to wait for: a flat rate, pay-on-delivery) right on the event loop;
any other in a worker thread (a shipping quote also within its timeout), so a slow gateway never
stalls the API worker."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from tests.checkout.helpers import ADDRESS, PHONE, make_variant
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.payments.providers import CashOnDeliveryProvider
from toolbox_core.plugins.guard import ProviderGuard
from toolbox_core.providers import CartView, PaymentAction, PaymentRequest, ShippingQuote, is_local

WORKER = "AnyIO worker thread"  # the request thread pool's threads
QUOTE_POOL = "toolbox-quote"  # the shipping quotes' pool (their timeout)


@dataclass
class RecordingCarrier:
    id: str
    local: bool
    threads: list[str] = field(default_factory=list)
    name: str = "Recording carrier"

    def quote(self, cart: CartView) -> list[ShippingQuote]:
        self.threads.append(threading.current_thread().name)
        return [ShippingQuote(self.id, "door", "Door", 2_000_000)]


@dataclass
class RecordingOnDelivery(CashOnDeliveryProvider):
    id: str = "recording_cod"
    local: bool = True  # its own initiate is local too (said where it is defined)
    threads: list[str] = field(default_factory=list)

    def initiate(self, request: PaymentRequest) -> PaymentAction:
        self.threads.append(threading.current_thread().name)
        return super().initiate(request)


@dataclass
class RecordingGateway(FakeOnlineProvider):
    threads: list[str] = field(default_factory=list)

    def initiate(self, request: PaymentRequest) -> PaymentAction:
        self.threads.append(threading.current_thread().name)
        return super().initiate(request)


@pytest.fixture
def store(toolbox, make_client):
    providers = {"local_carrier": RecordingCarrier("local_carrier", local=True),
                 "far_carrier": RecordingCarrier("far_carrier", local=False),
                 "recording_cod": RecordingOnDelivery(), "test_online": RecordingGateway()}
    for key, provider in providers.items():
        kind = toolbox.shipping_providers if "carrier" in key else toolbox.payment_providers
        kind[key] = ProviderGuard(provider)
    return make_client(toolbox), make_variant(toolbox, stock=5), providers


def _checkout(client, variant: str, carrier: str, payment: str) -> dict:
    made = client.post("/store/carts", json={"locale": "ru"}).json()
    cart, token = made["id"], {"x-cart-token": made["cart_token"]}
    for method, path, body in [
        ("POST", "/lines", {"variant_id": variant, "quantity": 1}),
        ("PATCH", "", {"phone": PHONE, "address": dict(ADDRESS)}),
        ("POST", "/shipping", {"provider_id": carrier, "option_id": "door"}),
        ("POST", "/payment-session", {"provider_id": payment}),
    ]:
        answer = client.request(method, f"/store/carts/{cart}{path}", json=body, headers=token)
        assert answer.status_code < 400, answer.text
    placed = client.post(f"/store/carts/{cart}/complete", headers=token)
    assert placed.status_code == 201, placed.text
    return placed.json()["order"]


def test_local_providers_are_asked_on_the_event_loop(store):
    client, variant, providers = store
    order = _checkout(client, variant, "local_carrier", "recording_cod")
    assert order["action"]["kind"] == "none"
    asked = providers["local_carrier"].threads + providers["recording_cod"].threads
    assert len(asked) == 2 and not [name for name in asked if name.startswith((WORKER, QUOTE_POOL))]


def test_other_providers_are_asked_in_worker_threads(store):
    client, variant, providers = store
    order = _checkout(client, variant, "far_carrier", "test_online")
    assert order["action"]["kind"] == "redirect"
    assert [name.startswith(QUOTE_POOL) for name in providers["far_carrier"].threads] == [True]
    assert providers["test_online"].threads == [WORKER]


def test_the_kernels_own_providers_are_local_and_a_provider_is_not_unless_it_says_so(toolbox):
    assert all(is_local(toolbox.shipping_providers[p], "quote") for p in ("flat", "pickup"))
    assert is_local(toolbox.payment_providers["cash_on_delivery"], "initiate")
    assert not is_local(FakeOnlineProvider(), "initiate") and not is_local(None, "initiate")
    assert not is_local(type("Truthy", (), {"local": 1, "quote": lambda self, cart: []})(), "quote")  # only True


def test_a_subclass_that_overrides_a_method_is_local_only_if_it_says_so_itself():
    class SmsOnDelivery(CashOnDeliveryProvider):  # calls out in its initiate, says nothing
        def initiate(self, request):
            return super().initiate(request)

    class Refreshed(RecordingOnDelivery):  # inherits the local initiate as it is
        pass

    assert not is_local(SmsOnDelivery(), "initiate")
    assert is_local(Refreshed(), "initiate") and is_local(ProviderGuard(Refreshed()), "initiate")

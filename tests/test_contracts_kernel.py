"""The kernel's own providers pass the contract suites plugin authors subclass.

Each class below is one kind's suite (``toolbox_core.testing.contracts``) run against a
built-in provider, as collected by a real toolbox (so behind the kernel's ProviderGuard).
The last classes check that the suites catch what they promise to catch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from toolbox_core.api import RetryLater, StockLevel
from toolbox_core.testing.contracts import (
    InventorySourceContract,
    NotificationChannelContract,
    OtpSenderContract,
    PaymentProviderContract,
    ShippingProviderContract,
    assert_tiyin,
)
from toolbox_core.testing.recording import RecordingChannel


class TestCashOnDeliveryContract(PaymentProviderContract):
    @pytest.fixture
    def provider(self, toolbox: Any) -> Any:
        return toolbox.payment_providers["cash_on_delivery"]


class TestPickupContract(ShippingProviderContract):
    @pytest.fixture
    def provider(self, toolbox: Any) -> Any:
        return toolbox.shipping_providers["pickup"]


class TestFlatRateContract(ShippingProviderContract):
    @pytest.fixture
    def provider(self, make_toolbox: Any) -> Any:
        toolbox = make_toolbox(checkout={"flat_shipping_price": 2_000_000})
        return toolbox.shipping_providers["flat"]


class TestLogOtpSenderContract(OtpSenderContract):
    @pytest.fixture
    def provider(self, make_toolbox: Any) -> Any:
        return make_toolbox(debug=True).otp_senders["log"]

    @pytest.fixture
    def failing_provider(self, make_toolbox: Any) -> Any:
        """Outside the embedded and debug modes (here: Redis) the log sender refuses to pretend it sent a code."""
        return make_toolbox(redis=True).otp_senders["log"]


class TestRecordingChannelContract(NotificationChannelContract):
    """The kit's recording channel is a well-behaved channel itself."""

    @pytest.fixture
    def provider(self) -> RecordingChannel:
        return RecordingChannel()

    @pytest.fixture
    def failing_provider(self) -> RecordingChannel:
        return RecordingChannel(fail_with=RetryLater("gateway busy", after=5))

    def delivered(self, provider: Any, idempotency_key: str) -> int:
        return provider.delivered(idempotency_key)


@dataclass
class ListedSource:
    """An inventory source over a fixed list (the kernel has no built-in one)."""

    levels: list[StockLevel]
    id: str = "listed"

    def fetch_levels(self) -> list[StockLevel]:
        return list(self.levels)


class TestListedInventorySourceContract(InventorySourceContract):
    @pytest.fixture
    def provider(self) -> ListedSource:
        return ListedSource([StockLevel("SKU-1", 5), StockLevel("SKU-2", 0), StockLevel("SKU-1", 2, "tashkent-2")])


# ------------------------------------------------------------------------------ the suites bite
def test_assert_tiyin_refuses_floats_bools_and_negatives() -> None:
    from decimal import Decimal

    assert_tiyin(0)
    assert_tiyin(1_500_000)
    for wrong in (15000.0, Decimal("15000"), True, -1, "15000"):
        with pytest.raises(AssertionError):
            assert_tiyin(wrong)


@dataclass
class SomQuoter:
    """A shipping provider that wrongly returns so'm as a float."""

    id: str = "som_quoter"
    name: str = "Wrong units"

    def quote(self, cart: Any) -> list[Any]:
        from toolbox_core.api import ShippingQuote

        return [ShippingQuote(self.id, "std", self.name, 15000.0)]  # type: ignore[arg-type]


def test_the_shipping_suite_fails_a_provider_quoting_floats() -> None:
    suite = ShippingProviderContract()
    cart = ShippingProviderContract.cart.__wrapped__(suite)  # the suite's default cart
    with pytest.raises(AssertionError, match="int number of tiyin"):
        suite.test_quote_from_sync_code(SomQuoter(), cart)


def test_the_error_contract_fails_a_provider_leaking_httpx_errors(serve_fake: Any) -> None:
    @dataclass
    class LeakyChannel:
        url: str
        id: str = "leaky"
        kind: str = "sms"

        def send(self, notification: Any) -> None:
            httpx.post(self.url, timeout=2).raise_for_status()

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    url = serve_fake(Starlette(routes=[Route("/", lambda r: PlainTextResponse("down", 503), methods=["POST"])]))
    suite = NotificationChannelContract()
    notification = NotificationChannelContract.notification.__wrapped__(suite)
    with pytest.raises(httpx.HTTPStatusError):
        suite.test_failures_raise_kernel_exceptions(LeakyChannel(url + "/"), notification)


def test_outside_calls_inside_a_transaction_are_caught(outside_calls: Any, serve_fake: Any, tmp_path: Any) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from toolbox_core.db import Database

    url = serve_fake(Starlette(routes=[Route("/", lambda r: PlainTextResponse("ok"))]))
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    httpx.get(url + "/", timeout=2)
    with db.transaction():
        httpx.get(url + "/?inside=1", timeout=2)
    db.dispose()
    assert len(outside_calls.requests) == 2
    assert outside_calls.inside_transaction == [f"GET {url}/?inside=1"]
    outside_calls.inside_transaction.clear()  # seen: let the fixture's own check pass


@dataclass
class StreamingSource:
    """A source that only streams batches (kernel API 1.1's preferred protocol)."""

    id: str = "streaming"

    def stream_levels(self, since: str | None) -> list[Any]:
        from types import SimpleNamespace

        return [SimpleNamespace(levels=(StockLevel("SKU-1", 5),), cursor="1"),
                SimpleNamespace(levels=(StockLevel("SKU-2", 3),), cursor="2")]


class TestStreamingInventorySourceContract(InventorySourceContract):
    @pytest.fixture
    def provider(self) -> StreamingSource:
        return StreamingSource()

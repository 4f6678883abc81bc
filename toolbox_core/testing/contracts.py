"""Contract suites: the behaviour every provider of a kind must have, as pytest classes.

Subclass the suite of your provider's kind in your plugin's tests and give it a ``provider``
fixture; every test of the suite then runs against your provider::

    from toolbox_core.testing.contracts import NotificationChannelContract

    class TestTelegramChannelContract(NotificationChannelContract):
        @pytest.fixture
        def provider(self, make_toolbox, serve_fake):
            ...
            return toolbox.notification_channels["telegram"]

What every suite checks:

* **identity** — a stable ``id`` (lowercase letters, digits, ``_``) and the Protocol's attributes;
* **amounts in tiyin** — every amount a provider returns is an ``int`` (never a float, a
  ``Decimal`` or a ``bool``) and never negative;
* **idempotency** — repeating an operation with the same input has the effect of doing it once;
* **errors** — with the ``failing_provider`` fixture (your provider pointed at an outside
  service that fails: a fake answering 500, or a closed port) operations raise the documented
  kernel exceptions: a :class:`~toolbox_core.api.ToolboxError` subclass,
  :class:`~toolbox_core.api.RetryLater` or :class:`~toolbox_core.api.PermanentFailure` —
  never an ``httpx`` error or a bare ``Exception``. Without the fixture those tests skip;
* **no call inside an open transaction** — every HTTP request the provider makes through
  ``httpx`` (sync or async client) is checked: made while the calling thread is inside
  ``Database.transaction()``, it fails the test. The provider also keeps working behind the
  kernel's :class:`ProviderGuard`, which refuses calls made inside a transaction;
* **sync and async both** — each operation is called from a plain function (the kernel's
  ``resolve``) and from inside a running event loop (``await aresolve(...)``), so a ``def`` and
  an ``async def`` implementation both work wherever the kernel calls them.

Override the input fixtures (``payment_request``, ``cart``, ``notification``, ``otp_phone``)
when your provider needs other data, and the ``*_hook`` methods documented on each suite to let
the suite see what the outside service received (for the amount and idempotency checks).
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from toolbox_core.asyncutil import aresolve, resolve
from toolbox_core.db.engine import in_transaction
from toolbox_core.errors import ToolboxError
from toolbox_core.jobs.failures import PermanentFailure, RetryLater
from toolbox_core.plugins.guard import ProviderCalledInTransaction, ProviderGuard
from toolbox_core.providers import (
    Address,
    CartView,
    LineView,
    Notification,
    PaymentAction,
    PaymentRequest,
    RefundResult,
    ShippingQuote,
    StockLevel,
)

#: What an operation of a provider may raise when the outside service fails.
KERNEL_EXCEPTIONS: tuple[type[BaseException], ...] = (ToolboxError, RetryLater, PermanentFailure)

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def assert_tiyin(value: object, what: str = "amount") -> None:
    """``value`` is an amount in tiyin: a non-negative ``int`` (not a bool, float or Decimal)."""
    assert type(value) is int, f"{what} must be an int number of tiyin, got {type(value).__name__} {value!r}"
    assert value >= 0, f"{what} must not be negative, got {value}"


def call_sync(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a provider method the way the kernel's sync code does (coroutines run to completion)."""
    return resolve(method(*args, **kwargs))


def call_async(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a provider method from inside a running event loop, as the kernel's async code does."""

    async def run() -> Any:
        return await aresolve(method(*args, **kwargs))

    return asyncio.run(run())


class OutsideCalls:
    """Every HTTP request made through ``httpx`` during a test, and those made inside a transaction."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.inside_transaction: list[str] = []

    def record(self, request: Any) -> None:
        line = f"{request.method} {request.url}"
        self.requests.append(line)
        if in_transaction():
            self.inside_transaction.append(line)


@pytest.fixture
def outside_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[OutsideCalls]:
    """Watch every ``httpx`` request of the test; fail it if one was sent inside a transaction."""
    import httpx

    calls = OutsideCalls()
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        calls.record(request)
        return sync_send(self, request, *args, **kwargs)

    async def asend(self: httpx.AsyncClient, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        calls.record(request)
        return await async_send(self, request, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", send)
    monkeypatch.setattr(httpx.AsyncClient, "send", asend)
    yield calls
    assert not calls.inside_transaction, (
        f"outside calls made inside an open database transaction: {calls.inside_transaction}; "
        "commit first, then call out")


class ProviderContract:
    """What every provider kind shares. Subclass a kind's suite, not this class."""

    #: Methods the suite calls through :class:`ProviderGuard` inside a transaction (the first
    #: one the provider has).
    guarded_methods: tuple[str, ...] = ()

    @pytest.fixture
    def provider(self) -> Any:
        """Your provider, ready to use (override this fixture)."""
        pytest.fail(f"{type(self).__name__} must define a `provider` fixture returning the provider")

    @pytest.fixture
    def failing_provider(self) -> Any:
        """Your provider pointed at an outside service that fails (override to check errors)."""
        pytest.skip("no `failing_provider` fixture: the error contract is not checked")

    @pytest.fixture(autouse=True)
    def _watch_outside_calls(self, outside_calls: OutsideCalls) -> OutsideCalls:
        return outside_calls

    def test_has_a_stable_id(self, provider: Any) -> None:
        assert isinstance(provider.id, str) and _ID.match(provider.id), (
            f"id {provider.id!r} must be lowercase letters, digits and _ (it is stored with orders)")

    def test_calls_are_refused_inside_a_transaction(self, provider: Any, tmp_path: Any) -> None:
        from toolbox_core.db import Database

        method = next(m for m in self.guarded_methods if hasattr(provider, m))
        db = Database(f"sqlite:///{tmp_path / 'guard.db'}")
        guarded = ProviderGuard(provider)
        assert guarded.id == provider.id
        try:
            with pytest.raises(ProviderCalledInTransaction), db.transaction():
                getattr(guarded, method)()
        finally:
            db.dispose()


# ------------------------------------------------------------------------------ payments
class PaymentProviderContract(ProviderContract):
    """Contract of a :class:`~toolbox_core.api.PaymentProvider`.

    Fixtures: ``provider`` (required), ``payment_request``, ``failing_provider``.
    Override :meth:`amount_in_action` to read the amount your gateway is sent out of the
    returned action (Payme's checkout URL carries tiyin, Click's so'm), so the suite can check
    that it equals the request's tiyin.
    """

    guarded_methods = ("initiate",)

    @pytest.fixture
    def payment_request(self) -> PaymentRequest:
        lines = (LineView("var_1", "SKU-1", "Tea", 2, 1_250_000, 500, "10202001001000000", "1497929", 12),
                 LineView("var_2", "SKU-2", "Cup", 1, 2_500_000, 300))
        return PaymentRequest(payment_id="pay_contract_1", order_id="ord_contract_1", order_number="1001",
                              amount=5_000_000 + 1_500_000, currency="UZS", locale="ru", lines=lines,
                              shipping_amount=1_500_000, phone="+998901234567",
                              return_url="https://shop.example.uz/orders/1001")

    def amount_in_action(self, action: PaymentAction, request: PaymentRequest) -> int | None:
        """The amount in tiyin the action sends to the gateway, or ``None`` when it carries none."""
        return None

    def refund_supported(self, provider: Any) -> bool:
        return getattr(provider, "refund_capability", "api") == "api"

    def test_has_the_protocol_attributes(self, provider: Any) -> None:
        assert isinstance(provider.name, str) and provider.name
        assert isinstance(provider.online, bool)
        assert callable(provider.initiate) and callable(provider.refund)
        capability = getattr(provider, "refund_capability", "api")
        assert capability in ("api", "gateway_initiated", "manual")
        timeout = getattr(provider, "payment_timeout_seconds", None)
        assert timeout is None or (type(timeout) is int and timeout > 0)

    def _check_action(self, action: Any, request: PaymentRequest) -> None:
        assert isinstance(action, PaymentAction), f"initiate must return a PaymentAction, got {action!r}"
        assert action.kind in ("redirect", "form", "none")
        if action.kind in ("redirect", "form"):
            assert action.url and action.url.startswith(("https://", "http://")), action.url
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in action.fields.items())
        amount = self.amount_in_action(action, request)
        if amount is not None:
            assert_tiyin(amount, "amount sent to the gateway")
            assert amount == request.amount

    def test_initiate_from_sync_code(self, provider: Any, payment_request: PaymentRequest) -> None:
        self._check_action(call_sync(provider.initiate, payment_request), payment_request)

    def test_initiate_from_async_code(self, provider: Any, payment_request: PaymentRequest) -> None:
        self._check_action(call_async(provider.initiate, payment_request), payment_request)

    def test_initiate_is_idempotent_for_one_payment(self, provider: Any, payment_request: PaymentRequest) -> None:
        first = call_sync(provider.initiate, payment_request)
        again = call_sync(provider.initiate, payment_request)
        assert (again.kind, again.url, again.fields) == (first.kind, first.url, first.fields)

    def test_refund_returns_a_refund_result(self, provider: Any, payment_request: PaymentRequest) -> None:
        if not self.refund_supported(provider):
            pytest.skip("refunds are not made through the API by this provider")
        try:
            result = call_sync(provider.refund, payment_request.payment_id, 1_000_000)
        except KERNEL_EXCEPTIONS:
            return  # a payment the gateway does not know may be refused, with a kernel exception
        assert isinstance(result, RefundResult) and isinstance(result.succeeded, bool)

    def test_failures_raise_kernel_exceptions(self, failing_provider: Any, payment_request: PaymentRequest) -> None:
        with pytest.raises(KERNEL_EXCEPTIONS):
            call_sync(failing_provider.initiate, payment_request)
        if self.refund_supported(failing_provider):
            with pytest.raises(KERNEL_EXCEPTIONS):
                call_async(failing_provider.refund, payment_request.payment_id, 1_000_000)


# ------------------------------------------------------------------------------ shipping
class ShippingProviderContract(ProviderContract):
    """Contract of a :class:`~toolbox_core.api.ShippingProvider` (its ``quote``).

    Fixtures: ``provider`` (required), ``cart`` (a cart the provider serves; override it when
    yours needs other region codes or weights), ``failing_provider``.
    """

    guarded_methods = ("quote",)

    @pytest.fixture
    def cart(self) -> CartView:
        lines = (LineView("var_1", "SKU-1", "Tea", 2, 1_250_000, 500),
                 LineView("var_2", "SKU-2", "Cup", 1, 2_500_000, 300))
        address = Address(region="Tashkent", city="Tashkent", street="Amir Temur 1",
                          name="Aziz", phone="+998901234567")
        return CartView(id="cart_contract_1", locale="ru", lines=lines, subtotal=5_000_000,
                        phone="+998901234567", address=address)

    def _check_quotes(self, provider: Any, quotes: Any) -> list[ShippingQuote]:
        quotes = list(quotes)
        for quote in quotes:
            assert isinstance(quote, ShippingQuote), f"quote must yield ShippingQuote, got {quote!r}"
            assert quote.provider_id == provider.id
            assert isinstance(quote.option_id, str) and quote.option_id
            assert isinstance(quote.name, str) and quote.name
            assert_tiyin(quote.amount, f"quote {quote.option_id!r} amount")
            assert quote.estimated_days is None or (type(quote.estimated_days) is int and quote.estimated_days >= 0)
        ids = [q.option_id for q in quotes]
        assert len(ids) == len(set(ids)), f"option ids must be unique: {ids}"
        return quotes

    def test_has_the_protocol_attributes(self, provider: Any) -> None:
        assert isinstance(provider.name, str) and provider.name
        assert callable(provider.quote)

    def test_quote_from_sync_code(self, provider: Any, cart: CartView) -> None:
        assert self._check_quotes(provider, call_sync(provider.quote, cart)), "no option for the contract cart"

    def test_quote_from_async_code(self, provider: Any, cart: CartView) -> None:
        assert self._check_quotes(provider, call_async(provider.quote, cart))

    def test_quote_is_idempotent(self, provider: Any, cart: CartView) -> None:
        first = self._check_quotes(provider, call_sync(provider.quote, cart))
        again = self._check_quotes(provider, call_sync(provider.quote, cart))
        assert [(q.option_id, q.amount) for q in again] == [(q.option_id, q.amount) for q in first]

    def test_a_cart_without_address_gets_options_or_none_never_an_error(self, provider: Any, cart: CartView) -> None:
        bare = CartView(id=cart.id, locale=cart.locale, lines=cart.lines, subtotal=cart.subtotal)
        self._check_quotes(provider, call_sync(provider.quote, bare))

    def test_failures_raise_kernel_exceptions(self, failing_provider: Any, cart: CartView) -> None:
        with pytest.raises(KERNEL_EXCEPTIONS):
            call_sync(failing_provider.quote, cart)


# ------------------------------------------------------------------------------ notifications
class NotificationChannelContract(ProviderContract):
    """Contract of a :class:`~toolbox_core.api.NotificationChannel` (its ``send``).

    Fixtures: ``provider`` (required), ``notification``, ``failing_provider``. Override
    :meth:`delivered` to return how many times the outside service received the notification
    with a given idempotency key, so the suite checks that a repeated send is delivered once.
    """

    guarded_methods = ("send",)

    @pytest.fixture
    def notification(self) -> Notification:
        return Notification(to="+998901234567", text="Order 1001 placed: 65 000 so'm",
                            template="order.placed", data={"number": "1001", "total": 6_500_000},
                            idempotency_key="contract-evt-1")

    def delivered(self, provider: Any, idempotency_key: str) -> int | None:
        """How many times the outside service got ``idempotency_key``; ``None``: not observable."""
        return None

    def test_has_the_protocol_attributes(self, provider: Any) -> None:
        assert isinstance(provider.kind, str) and _ID.match(provider.kind)
        assert callable(provider.send)

    def _check_sent(self, result: Any) -> None:
        assert result is None or isinstance(result, str), f"send returns a message id or None, got {result!r}"

    def test_send_from_sync_code(self, provider: Any, notification: Notification) -> None:
        self._check_sent(call_sync(provider.send, notification))

    def test_send_from_async_code(self, provider: Any, notification: Notification) -> None:
        self._check_sent(call_async(provider.send, notification))

    def test_send_is_idempotent_on_the_key(self, provider: Any, notification: Notification) -> None:
        assert notification.idempotency_key, "the contract notification needs an idempotency_key"
        call_sync(provider.send, notification)
        call_sync(provider.send, notification)
        count = self.delivered(provider, notification.idempotency_key)
        if count is None:
            pytest.skip("override `delivered` to check idempotency")
        assert count == 1, f"a notification sent twice with one key was delivered {count} times"

    def test_failures_raise_kernel_exceptions(self, failing_provider: Any, notification: Notification) -> None:
        with pytest.raises(KERNEL_EXCEPTIONS):
            call_sync(failing_provider.send, notification)


# ------------------------------------------------------------------------------ OTP
class OtpSenderContract(ProviderContract):
    """Contract of an :class:`~toolbox_core.api.OtpSender` (its ``send_code``).

    Works with both signatures: ``send_code(phone, code, ttl, locale)`` (kernel API 1.1) and the
    1.0 ``send_code(phone, text, locale)``: the suite passes what the method declares.
    Fixtures: ``provider`` (required), ``otp_phone``, ``failing_provider``.
    """

    guarded_methods = ("send_code",)

    @pytest.fixture
    def otp_phone(self) -> str:
        return "+998901234567"

    def send_kwargs(self, provider: Any, phone: str) -> dict[str, Any]:
        values = {"phone": phone, "code": "123456", "ttl": 300, "ttl_seconds": 300, "locale": "ru",
                  "text": "Toolbox: your code is 123456"}
        params = inspect.signature(provider.send_code).parameters
        return {name: values[name] for name in params if name in values}

    def test_send_code_from_sync_code(self, provider: Any, otp_phone: str) -> None:
        result = call_sync(provider.send_code, **self.send_kwargs(provider, otp_phone))
        assert result is None or isinstance(result, str), f"send_code returns None or a message id, got {result!r}"

    def test_send_code_from_async_code(self, provider: Any, otp_phone: str) -> None:
        result = call_async(provider.send_code, **self.send_kwargs(provider, otp_phone))
        assert result is None or isinstance(result, str)

    def test_failures_raise_kernel_exceptions(self, failing_provider: Any, otp_phone: str) -> None:
        with pytest.raises(KERNEL_EXCEPTIONS):
            call_sync(failing_provider.send_code, **self.send_kwargs(failing_provider, otp_phone))


# ------------------------------------------------------------------------------ inventory
class InventorySourceContract(ProviderContract):
    """Contract of an :class:`~toolbox_core.api.InventorySource`.

    Checks ``fetch_levels()`` and, when the source has it, ``stream_levels(since)`` (batches).
    Fixtures: ``provider`` (required), ``failing_provider``.
    """

    guarded_methods = ("stream_levels", "fetch_levels")

    def levels(self, provider: Any) -> list[StockLevel]:
        """Every level of one full run: ``stream_levels(None)`` batches when the source has it."""
        if hasattr(provider, "stream_levels"):
            return [level for batch in call_sync(provider.stream_levels, None) for level in batch.levels]
        return list(call_sync(provider.fetch_levels))

    def _check_levels(self, levels: list[Any]) -> None:
        seen: set[tuple[str, str]] = set()
        for level in levels:
            assert isinstance(level, StockLevel), f"levels are StockLevel, got {level!r}"
            assert isinstance(level.sku, str) and level.sku.strip() == level.sku and level.sku
            assert type(level.quantity) is int, f"quantity of {level.sku} must be an int"
            key = (level.sku, level.location_code)
            assert key not in seen, f"{key} reported twice in one run"
            seen.add(key)

    def test_levels_from_sync_code(self, provider: Any) -> None:
        levels = self.levels(provider)
        self._check_levels(levels)
        assert levels, "the contract source should report some levels"

    def test_levels_from_async_code(self, provider: Any) -> None:
        if not hasattr(provider, "fetch_levels"):
            pytest.skip("the source only streams batches")
        self._check_levels(list(call_async(provider.fetch_levels)))

    def test_levels_are_idempotent(self, provider: Any) -> None:
        first = sorted((lv.sku, lv.location_code, lv.quantity) for lv in self.levels(provider))
        again = sorted((lv.sku, lv.location_code, lv.quantity) for lv in self.levels(provider))
        self._check_levels(self.levels(provider))
        assert first == again

    def test_failures_raise_kernel_exceptions(self, failing_provider: Any) -> None:
        with pytest.raises(KERNEL_EXCEPTIONS):
            self.levels(failing_provider)


__all__ = [
    "KERNEL_EXCEPTIONS",
    "InventorySourceContract",
    "NotificationChannelContract",
    "OtpSenderContract",
    "OutsideCalls",
    "PaymentProviderContract",
    "ProviderContract",
    "ShippingProviderContract",
    "assert_tiyin",
    "call_async",
    "call_sync",
    "outside_calls",
]

"""What a gateway callback's order read costs: ``order_view_in_session`` reads no more than the
view it returns (no history, lines only when asked), and the history entries a callback adds
through ``note()`` are kept all the same."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.checkout.helpers import make_variant, ready_cart
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.api import PaymentService, order_view_in_session
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.orders.service import OrderService
from toolbox_core.plugins.guard import ProviderGuard


@pytest.fixture
def placed(toolbox):
    provider = FakeOnlineProvider()
    toolbox.payment_providers[provider.id] = ProviderGuard(provider)
    variant = make_variant(toolbox, stock=3)
    return CheckoutService(toolbox).complete(ready_cart(toolbox, variant, provider=provider.id), None)


def _selects(toolbox, read) -> tuple[object, list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(toolbox.db.engine, "before_cursor_execute", record)
    try:
        with toolbox.db.transaction() as session:
            return read(session), seen
    finally:
        event.remove(toolbox.db.engine, "before_cursor_execute", record)


def test_the_view_reads_the_order_with_its_payment_and_never_the_history(toolbox, placed):
    view, seen = _selects(toolbox, lambda s: order_view_in_session(s, placed.number))
    assert (view.number, view.payment.id, len(view.lines)) == (placed.number, placed.payment_id, 1)
    assert len(seen) == 2  # order + payment, then the lines
    assert not [s for s in seen if "FROM order_history" in s]


def test_a_locked_view_without_lines_reads_only_the_payment_and_the_order(toolbox, placed):
    view, seen = _selects(toolbox, lambda s: order_view_in_session(s, placed.number, lock=True, lines=False))
    assert (view.id, view.payment.id, view.lines, view.total) == (placed.order_id, placed.payment_id, (),
                                                                   placed.total)
    assert len(seen) == 2  # the payment (by the named order), then the order
    assert not [s for s in seen if "FROM order_history" in s or "FROM order_items" in s]


def test_a_capture_after_a_locked_view_keeps_the_whole_history(toolbox, placed):
    before = [h["kind"] for h in OrderService(toolbox).get(placed.order_id)["history"]]
    with toolbox.db.transaction() as session:
        order_view_in_session(session, placed.number, lock=True, lines=False)
        PaymentService(toolbox).capture_in_session(session, "test_online", placed.payment_id,
                                                   gateway_transaction_id="gw-1", amount=placed.total)
    after = OrderService(toolbox).get(placed.order_id)
    assert [h["kind"] for h in after["history"]] == [*before, "payment_captured"]
    assert (after["status"], after["payment_status"], len(after["items"])) == ("placed", "paid", 1)

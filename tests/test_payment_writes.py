"""The kernel's payment writes on the callback path: an authorize or a capture writes the payment
and order changes, the history entry, the outbox row and its transaction row (one combined
statement on PostgreSQL, one by one on SQLite) with the same result either way; ``emit()`` and
``note()`` write at once in the caller's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.checkout.helpers import make_variant, outbox, ready_cart
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.api import PaymentService
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.db.base import utcnow
from toolbox_core.events import emit
from toolbox_core.events.models import OutboxEvent
from toolbox_core.orders.models import Order, OrderHistory
from toolbox_core.orders.service import lock_order, note
from toolbox_core.payments.models import Payment, PaymentTransaction
from toolbox_core.plugins.guard import ProviderGuard
from toolbox_core.schemas import iso_utc

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def kernel(request, make_toolbox):
    toolbox = make_toolbox(database=request.param)
    provider = FakeOnlineProvider()
    toolbox.payment_providers[provider.id] = ProviderGuard(provider)
    return toolbox


def _order(toolbox):
    return CheckoutService(toolbox).complete(ready_cart(toolbox, make_variant(toolbox), provider="test_online"), None)


def _history(toolbox, order_id):
    with toolbox.db.session() as session:
        return [(h.kind, h.message, h.actor) for h in session.scalars(
            select(OrderHistory).where(OrderHistory.order_id == order_id).order_by(OrderHistory.id))]


def test_authorize_then_capture_write_every_row_once_and_replays_change_nothing(kernel):
    result = _order(kernel)
    payments = PaymentService(kernel)
    hold = utcnow() + timedelta(hours=12)
    authorized = payments.authorize("test_online", result.payment_id, gateway_transaction_id="gw-1",
                                    amount=result.total, hold_until=hold, data={"k": 1})
    captured = payments.capture("test_online", result.payment_id, gateway_transaction_id="gw-1", amount=result.total)
    again = payments.capture("test_online", result.payment_id, gateway_transaction_id="gw-1", amount=result.total)

    assert (authorized.payment_status, authorized.replayed) == ("authorized", False)
    assert (captured.payment_status, captured.kind, captured.amount) == ("captured", "capture", result.total)
    assert (again.replayed, again.transaction_id) == (True, captured.transaction_id)
    # SQLite gives back naive UTC datetimes (as before); the moment is the same.
    assert again.created_at.replace(tzinfo=None) == captured.created_at.replace(tzinfo=None)
    with kernel.db.session() as session:
        payment = session.get(Payment, result.payment_id)
        order = session.get(Order, result.order_id)
        rows = session.scalars(select(PaymentTransaction).where(PaymentTransaction.payment_id == payment.id)
                               .order_by(PaymentTransaction.created_at)).all()
        assert (payment.status, payment.captured_amount) == ("captured", result.total)
        assert (order.status, order.payment_status, order.payment_expires_at) == ("placed", "paid", None)
        assert payment.updated_at >= payment.created_at
        assert [(r.id, r.kind, r.amount, r.currency, r.data) for r in rows] == [
            (authorized.transaction_id, "authorize", result.total, "UZS", {"k": 1, "hold_until": iso_utc(hold)}),
            (captured.transaction_id, "capture", result.total, "UZS", {})]
    assert [h[0] for h in _history(kernel, result.order_id)][-2:] == ["payment_authorized", "payment_captured"]
    assert _history(kernel, result.order_id)[-1] == ("payment_captured", "test_online", "system")
    assert [e["amount"] for e in outbox(kernel, "payment.authorized")] == [result.total]
    assert [(e["payment_id"], e["number"]) for e in outbox(kernel, "payment.captured")] == [
        (result.payment_id, result.number)]


def test_the_locked_rows_show_the_report_in_the_same_transaction_with_nothing_left_to_flush(kernel):
    result = _order(kernel)
    with kernel.db.transaction() as session:
        order, payment = lock_order(session, result.order_id)
        PaymentService(kernel).capture_in_session(session, "test_online", result.payment_id,
                                                  gateway_transaction_id="gw-2", amount=result.total)
        assert (payment.status, order.status, order.payment_status) == ("captured", "placed", "paid")
        assert not session.dirty and not session.new


def test_a_capture_after_the_history_was_loaded_adds_to_the_loaded_history(kernel):
    result = _order(kernel)
    with kernel.db.transaction() as session:
        order, _ = lock_order(session, result.order_id)
        before = len(order.history)
        PaymentService(kernel).capture_in_session(session, "test_online", result.payment_id,
                                                  gateway_transaction_id="gw-3", amount=result.total)
        assert [h.kind for h in order.history[before:]] == ["payment_captured"]
    assert _history(kernel, result.order_id)[-1][0] == "payment_captured"
    assert len(outbox(kernel, "payment.captured")) == 1


def test_emit_and_note_write_in_the_callers_transaction_and_roll_back_with_it(kernel):
    result = _order(kernel)
    with kernel.db.transaction() as session:
        event_id = emit(session, "payment.canceled", {"order_id": result.order_id})
        assert session.get(OutboxEvent, event_id).name == "payment.canceled"
    with pytest.raises(RuntimeError), kernel.db.transaction() as session:
        rolled_back = emit(session, "payment.canceled", {"order_id": "gone"})
        note(session.get(Order, result.order_id), "canceled", "not kept")
        assert session.scalar(select(OrderHistory.message).where(OrderHistory.message == "not kept")) == "not kept"
        raise RuntimeError("roll back")
    with kernel.db.session() as session:
        assert session.get(OutboxEvent, rolled_back) is None
        assert session.get(OutboxEvent, event_id) is not None
    assert "not kept" not in [h[1] for h in _history(kernel, result.order_id)]

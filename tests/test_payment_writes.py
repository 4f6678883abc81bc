"""The kernel's payment writes on the callback path: an authorize or a capture writes the payment
and order changes, the history entry, the outbox row and its transaction row (one combined
statement on PostgreSQL, one by one on SQLite) with the same result either way; ``emit()`` and
``note()`` write at once in the caller's transaction."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import bindparam, event, func, insert, literal_column, select

from tests.checkout.helpers import make_variant, outbox, ready_cart
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.api import GatewayQuery, PaymentService, order_view_in_session
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


# ------------------------------------------------------------------ a gateway's short path
# The gateway's "own" row in these tests: its earlier report, read through an alias of the kernel's
# transaction table; its own DML: a history entry (a table the kernel also writes, another row).
_OWN = PaymentTransaction.__table__.alias("own")
_QUERY = GatewayQuery(own=_OWN, own_where=_OWN.c.gateway_transaction_id == bindparam("b_gw"),
                      values={"entries": select(func.count()).where(OrderHistory.order_id == bindparam("b_order"))
                              .scalar_subquery()}, report="authorize")
_GATEWAY_NOTE = insert(OrderHistory.__table__).values(order_id=bindparam("b_order"), kind=bindparam("b_kind"),
                                                      message="", actor="gateway", at=bindparam("b_at"))


def _statements(toolbox):
    seen: list[str] = []
    def listener(_conn, _cursor, statement, *_args) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE
            seen.append(statement)

    event.listen(toolbox.db.engine, "before_cursor_execute", listener)
    return seen, lambda: event.remove(toolbox.db.engine, "before_cursor_execute", listener)


def test_a_gateway_reads_and_reports_in_one_statement_each_with_its_own_writes(kernel):
    result = _order(kernel)
    payments = PaymentService(kernel)
    params = {"b_gw": "gw-s1", "b_order": result.order_id}
    hold = utcnow() + timedelta(hours=12)
    seen, stop = _statements(kernel)
    try:
        with kernel.db.transaction() as session:
            state = payments.read_for_report(session, _QUERY, provider_id="test_online", key=result.number,
                                             gateway_transaction_id="gw-s1", params=params)
            assert len(seen) == 1
            assert (state.view.id, state.view.payment.status, state.own, state.seen) == (
                result.order_id, "pending", None, None)
            assert state.values["entries"] >= 1 and state.view.lines == ()
            authorized = payments.authorize_in_session(
                session, "test_online", result.payment_id, gateway_transaction_id="gw-s1", amount=result.total,
                hold_until=hold, state=state,
                also=[(_GATEWAY_NOTE, {"b_order": result.order_id, "b_kind": "gateway_row", "b_at": utcnow()})])
            if kernel.db.engine.dialect.name == "postgresql":
                assert len(seen) == 2 and seen[1].lstrip().startswith("WITH")  # every write in one statement
    finally:
        stop()
    assert (authorized.payment_status, authorized.replayed) == ("authorized", False)
    kinds = [h[0] for h in _history(kernel, result.order_id)]
    assert kinds[-2:] == ["payment_authorized", "gateway_row"] or kinds[-2:] == ["gateway_row", "payment_authorized"]
    with kernel.db.session() as session:
        order = session.get(Order, result.order_id)
        assert (order.payment_status, order.payment_expires_at is not None) == ("authorized", True)

    # A repeat: the own row and the earlier report are read with the order; nothing is written.
    with kernel.db.transaction() as session:
        state = payments.read_for_report(session, _QUERY, provider_id="test_online", key=result.number,
                                         gateway_transaction_id="gw-s1", params=params)
        assert (state.own.kind, state.seen.id) == ("authorize", authorized.transaction_id)
        again = payments.authorize_in_session(
            session, "test_online", result.payment_id, gateway_transaction_id="gw-s1", amount=result.total,
            state=state, also=[(_GATEWAY_NOTE, {"b_order": result.order_id, "b_kind": "gateway_row", "b_at": utcnow()})])
    assert (again.replayed, again.transaction_id) == (True, authorized.transaction_id)
    assert [h[0] for h in _history(kernel, result.order_id)].count("gateway_row") == 1

    # The order named by the own row (as PerformTransaction finds it by its Payme id), locked first.
    own_payment = Payment.__table__.alias("own_payment")
    by_own = GatewayQuery(own=own_payment, own_where=own_payment.c.id == bindparam("b_pay"), lock_own=True,
                          order_from_own="order_id", report="capture")
    with kernel.db.transaction() as session:
        state = payments.read_for_report(session, by_own, provider_id="test_online", gateway_transaction_id="gw-s1",
                                         params={"b_pay": result.payment_id})
        assert (state.view.id, state.own.id, state.seen) == (result.order_id, result.payment_id, None)
        assert payments.read_for_report(session, by_own, provider_id="test_online", params={"b_pay": "nope"}) is None
    with kernel.db.transaction() as session:
        state = payments.read_for_report(session, _QUERY, provider_id="test_online", key=result.number,
                                         gateway_transaction_id="gw-s1", params=params)
        captured = payments.capture_in_session(session, "test_online", result.payment_id,
                                               gateway_transaction_id="gw-s1", amount=result.total, state=state)
    assert (captured.payment_status, captured.replayed) == ("captured", False)
    with kernel.db.session() as session:
        order = session.get(Order, result.order_id)
        assert (order.status, order.payment_status, order.payment_expires_at) == ("placed", "paid", None)
    sold = [e for e in outbox(kernel, "inventory.updated") if e["reason"] == "sold"]
    assert [e["order_id"] for e in sold] == [result.order_id]  # the held stock, sold once
    assert len(outbox(kernel, "payment.captured")) == 1


def test_nothing_matching_is_none_and_a_state_is_only_for_its_payment(kernel):
    result, other = _order(kernel), _order(kernel)
    payments = PaymentService(kernel)
    with kernel.db.transaction() as session:
        for key, provider in (("99999", "test_online"), (result.number, "payme"), ("x" * 41, "test_online")):
            assert payments.read_for_report(session, _QUERY, provider_id=provider, key=key,
                                            params={"b_gw": "-", "b_order": "-"}) is None
        state = payments.read_for_report(session, _QUERY, provider_id="test_online", key=result.order_id,
                                         gateway_transaction_id="gw-x", params={"b_gw": "-", "b_order": "-"})
        assert state.view.number == result.number  # an id names the order too
        with pytest.raises(ValueError):
            payments.authorize_in_session(session, "test_online", other.payment_id, gateway_transaction_id="gw-x",
                                          amount=other.total, state=state)


def test_a_pre_check_reads_order_payment_lines_and_values_in_one_autocommit_statement(kernel):
    result = _order(kernel)
    payments = PaymentService(kernel)
    seen, stop = _statements(kernel)
    try:
        with payments.reader() as connection:
            state = payments.read_for_report(connection, GatewayQuery(values={"one": literal_column("1")}),
                                             provider_id="test_online", key=result.number, lock=False, lines=True)
    finally:
        stop()
    assert len(seen) == 1 and "FOR UPDATE" not in seen[0]
    with kernel.db.session() as session:
        expected = order_view_in_session(session, result.number)
    assert state.view == expected and len(state.view.lines) == 1 and state.values == {"one": 1}


@pytest.mark.postgres
def test_a_read_that_waited_for_the_payment_lock_sees_what_the_holder_committed(make_toolbox):
    toolbox = make_toolbox(database="postgres")
    provider = FakeOnlineProvider()
    toolbox.payment_providers[provider.id] = ProviderGuard(provider)
    result = _order(toolbox)
    payments = PaymentService(toolbox)
    params = {"b_gw": "gw-race", "b_order": result.order_id}
    holding, waiting = threading.Event(), {}

    def first() -> None:
        with toolbox.db.transaction() as session:
            state = payments.read_for_report(session, _QUERY, provider_id="test_online", key=result.number,
                                             gateway_transaction_id="gw-race", params=params)
            holding.set()
            time.sleep(0.5)  # the second read waits for the payment lock meanwhile
            payments.authorize_in_session(session, "test_online", result.payment_id,
                                          gateway_transaction_id="gw-race", amount=result.total, state=state)

    def second() -> None:
        holding.wait(5)
        with toolbox.db.transaction() as session:
            started = time.perf_counter()
            state = payments.read_for_report(session, _QUERY, provider_id="test_online", key=result.number,
                                             gateway_transaction_id="gw-race", params=params)
            waiting.update(seconds=time.perf_counter() - started, own=state.own, seen=state.seen,
                           status=state.view.payment.status)

    with ThreadPoolExecutor(2) as pool:
        for job in [pool.submit(first), pool.submit(second)]:
            job.result()
    assert waiting["seconds"] > 0.2  # it did wait
    # Not the snapshot it started with: the holder's report and own row, committed meanwhile.
    assert waiting["status"] == "authorized"
    assert waiting["own"] is not None and waiting["seen"] is not None


def test_a_gateways_own_insert_returns_its_generated_id_from_the_one_statement(kernel):
    result = _order(kernel)
    payments = PaymentService(kernel)
    returning = _GATEWAY_NOTE.returning(OrderHistory.__table__.c.id)
    rows: list = []
    with kernel.db.transaction() as session:
        state = payments.read_for_report(session, _QUERY, provider_id="test_online", key=result.number,
                                         gateway_transaction_id="gw-r", params={"b_gw": "-", "b_order": "-"})
        payments.capture_in_session(session, "test_online", result.payment_id, gateway_transaction_id="gw-r",
                                    amount=result.total, state=state,
                                    also=[(returning, {"b_order": result.order_id, "b_kind": "gateway_row",
                                                       "b_at": utcnow()}, rows)])
    with kernel.db.session() as session:
        stored = session.scalar(select(OrderHistory.id).where(OrderHistory.order_id == result.order_id,
                                                              OrderHistory.kind == "gateway_row"))
    assert [tuple(r) for r in rows] == [(stored,)] and isinstance(stored, int)
    assert [e["order_id"] for e in outbox(kernel, "inventory.updated") if e["reason"] == "sold"] == [result.order_id]

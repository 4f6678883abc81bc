"""A cart has at most one pending payment: choosing another provider switches the one it has,
and the database itself refuses a second pending payment for a cart (a partial unique index)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tests.checkout.helpers import make_variant, ready_cart
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.cart.service import CartService
from toolbox_core.db.base import utcnow
from toolbox_core.payments.models import Payment
from toolbox_core.plugins.guard import ProviderGuard

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def kernel(request, make_toolbox):
    toolbox = make_toolbox(database=request.param)
    provider = FakeOnlineProvider()
    toolbox.payment_providers[provider.id] = ProviderGuard(provider)
    return toolbox


def payments_of(toolbox, cart_id: str) -> list[tuple[str, str]]:
    with toolbox.db.session() as session:
        return [(p.provider_id, p.status) for p in session.scalars(select(Payment).where(Payment.cart_id == cart_id))]


def second_payment(toolbox, cart_id: str, status: str = "pending") -> None:
    now = utcnow()
    with toolbox.db.transaction() as session:
        session.execute(insert(Payment.__table__).values(
            id=f"pay_second_{status}", cart_id=cart_id, provider_id="test_online", status=status, amount=100,
            currency="UZS", captured_amount=0, refunded_amount=0, created_at=now, updated_at=now))


def test_changing_the_provider_switches_the_carts_one_pending_payment(kernel):
    cart_id = ready_cart(kernel, make_variant(kernel))
    CartService(kernel).select_payment(cart_id, None, "test_online")
    CartService(kernel).select_payment(cart_id, None, "cash_on_delivery")
    assert payments_of(kernel, cart_id) == [("cash_on_delivery", "pending")]


def test_the_database_refuses_a_second_pending_payment_for_a_cart(kernel):
    cart_id = ready_cart(kernel, make_variant(kernel))
    with pytest.raises(IntegrityError):
        second_payment(kernel, cart_id)
    assert payments_of(kernel, cart_id) == [("cash_on_delivery", "pending")]


def test_a_payment_that_is_no_longer_pending_leaves_room_for_a_new_one(kernel):
    cart_id = ready_cart(kernel, make_variant(kernel))
    second_payment(kernel, cart_id, status="canceled")
    with kernel.db.transaction() as session:
        session.execute(update(Payment).where(Payment.cart_id == cart_id, Payment.status == "pending")
                        .values(status="canceled"))
    second_payment(kernel, cart_id)
    with kernel.db.session() as session:
        pending = session.scalar(select(func.count()).where(Payment.cart_id == cart_id, Payment.status == "pending"))
    assert pending == 1

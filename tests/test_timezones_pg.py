"""A PostgreSQL server or role whose session time zone is not UTC (Tashkent, say) changes nothing:
times are stored and compared as instants, answered in UTC, and date filters mean UTC days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.checkout.helpers import admin_headers, make_variant, ready_cart
from toolbox_core.checkout.service import CheckoutService


@pytest.fixture
def tashkent(make_toolbox, monkeypatch):
    monkeypatch.setenv("PGTZ", "Asia/Tashkent")  # libpq sets the session time zone from it
    toolbox = make_toolbox(database="postgres")
    with toolbox.db.statements() as conn:
        assert conn.exec_driver_sql("SHOW timezone").scalar() == "Asia/Tashkent"
    return toolbox


def test_orders_are_placed_answered_in_utc_and_filtered_by_utc_day(tashkent, make_client):
    variant = make_variant(tashkent, stock=5)
    cart_id = ready_cart(tashkent, variant)  # each cart edit checks the version it read: an instant
    order = CheckoutService(tashkent).complete(cart_id, None)
    client = make_client(tashkent)
    headers = admin_headers(tashkent, "orders:read")

    today = datetime.now(UTC).date()
    listed = client.get(f"/admin/orders?from={today}&to={today}", headers=headers)
    assert listed.status_code == 200, listed.text
    [found] = [o for o in listed.json()["items"] if o["id"] == order.order_id]
    created = datetime.fromisoformat(found["created_at"].replace("Z", "+00:00"))
    assert found["created_at"].endswith("Z") and abs(created - datetime.now(UTC)) < timedelta(minutes=5)
    tomorrow = today + timedelta(days=1)
    later = client.get(f"/admin/orders?from={tomorrow}", headers=headers)
    assert later.status_code == 200 and order.order_id not in [o["id"] for o in later.json()["items"]]

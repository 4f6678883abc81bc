"""Cart changes are optimistic (``toolbox_core.cart.rows.write``): written only if the cart is still
the version read and open, re-read and re-checked otherwise. Concurrent changes of one cart all
land; a change racing the cart's completion never lands in the completed cart."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.checkout.helpers import ADDRESS, PHONE, make_variant, ready_cart
from toolbox_core.cart import rows
from toolbox_core.cart.rows import LineRow
from toolbox_core.cart.service import CartService
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.config import Settings
from toolbox_core.db.base import utcnow
from toolbox_core.errors import ToolboxError
from toolbox_core.kernel import Toolbox
from toolbox_core.orders.models import Order


@pytest.fixture(params=["sqlite", "postgres"])
def any_toolbox(request, make_toolbox):
    if request.param == "postgres":
        pytest.importorskip("psycopg")
        return make_toolbox(database="postgres")
    return make_toolbox()


def test_a_write_of_a_stale_version_writes_nothing(any_toolbox):
    toolbox = any_toolbox
    carts = CartService(toolbox)
    cart_id = carts.create(None, "ru", PHONE)["id"]
    variant = make_variant(toolbox)
    with toolbox.db.session() as session:
        stale = rows.load(session, cart_id, lock=False)[0]
    carts.update(cart_id, None, {"email": "a@example.uz"})  # moves the version

    rows.add_line(stale, LineRow("cline_stale", variant, 1, 0))
    with toolbox.db.transaction() as session:
        assert rows.write(session, stale, utcnow()) is False
    assert carts.get(cart_id, None)["lines"] == []


def test_a_write_of_a_completed_cart_writes_nothing(any_toolbox):
    toolbox = any_toolbox
    variant = make_variant(toolbox)
    cart_id = ready_cart(toolbox, variant)
    with toolbox.db.session() as session:
        read_before = rows.load(session, cart_id, lock=False)[0]
    CheckoutService(toolbox).complete(cart_id, None)

    rows.set_quantity(read_before, read_before.lines[0], 5)
    with toolbox.db.transaction() as session:
        assert rows.write(session, read_before, utcnow()) is False
        assert rows.load(session, cart_id, lock=False)[0].lines[0].quantity == 1


@pytest.mark.postgres
def test_a_stale_read_is_read_again_and_the_change_rechecked(make_toolbox, monkeypatch):
    toolbox = make_toolbox(database="postgres")  # SQLite: a change holds BEGIN IMMEDIATE, nothing races it
    carts = CartService(toolbox)
    variant = make_variant(toolbox, stock=3)
    cart_id = carts.create(None, "ru", PHONE)["id"]
    carts.add_line(cart_id, None, variant, 2)
    real_write, calls = rows.write, []

    def racing_write(db, cart, at, **options):  # another request adds 1 between this one's read and write
        if not calls:
            calls.append(1)
            with toolbox.db.transaction() as session:
                other = rows.load(session, cart_id, lock=True)[0]
                rows.set_quantity(other, other.lines[0], 3)
                assert real_write(session, other, utcnow())
        return real_write(db, cart, at, **options)

    monkeypatch.setattr(rows, "write", racing_write)
    with pytest.raises(ToolboxError) as refused:  # re-checked on the new quantity: 3 + 1 > 3 in stock
        carts.add_line(cart_id, None, variant, 1)
    assert refused.value.code == "out_of_stock"
    assert carts.get(cart_id, None)["lines"][0]["quantity"] == 3


@pytest.mark.postgres
def test_concurrent_changes_of_one_cart_all_land(pg_url, clean_env):
    toolbox = Toolbox.create(Settings(database_url=pg_url, plugins=[]))
    toolbox.db = type(toolbox.db)(pg_url, pool_size=10)
    try:
        carts = CartService(toolbox)
        variants = [make_variant(toolbox) for _ in range(4)]
        cart_id = carts.create(None, "ru", PHONE)["id"]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda v: carts.add_line(cart_id, None, v, 1), variants))
        cart = carts.get(cart_id, None)
        assert sorted(line["variant_id"] for line in cart["lines"]) == sorted(variants)
    finally:
        toolbox.close()


def test_a_locale_change_names_the_chosen_shipping_in_the_new_locale(client, toolbox):
    variant = make_variant(toolbox)
    cart = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    client.post(f"/store/carts/{cart}/lines", json={"variant_id": variant, "quantity": 1})
    client.patch(f"/store/carts/{cart}", json={"phone": PHONE, "address": dict(ADDRESS)})
    chosen = client.post(f"/store/carts/{cart}/shipping", json={"provider_id": "flat", "option_id": "flat"}).json()
    names = toolbox.settings.checkout.flat_shipping_name
    assert chosen["shipping"]["name"] == names["ru"]

    changed = client.patch(f"/store/carts/{cart}", json={"locale": "uz"})
    assert changed.status_code == 200
    assert changed.json()["shipping"]["name"] == names["uz"] != names["ru"]
    assert changed.json()["shipping"]["amount"] == chosen["shipping"]["amount"]
    assert client.get(f"/store/carts/{cart}").json()["shipping"]["name"] == names["uz"]
    client.post(f"/store/carts/{cart}/payment-session", json={"provider_id": "cash_on_delivery"})
    order = client.post(f"/store/carts/{cart}/complete")
    assert order.status_code == 201, order.text
    with toolbox.db.session() as session:
        assert session.get(Order, order.json()["order"]["id"]).shipping["name"] == names["uz"]


@pytest.mark.postgres
def test_complete_waiting_for_a_change_of_the_cart_orders_the_lines_as_changed(pg_url, clean_env):
    toolbox = Toolbox.create(Settings(database_url=pg_url, plugins=[]))
    toolbox.db = type(toolbox.db)(pg_url, pool_size=10)
    try:
        first, second = make_variant(toolbox), make_variant(toolbox)
        cart_id = ready_cart(toolbox, first)
        written = threading.Event()

        def add_and_hold() -> None:  # a change that holds the cart row while complete starts
            with toolbox.db.transaction() as session:
                cart = rows.load(session, cart_id, lock=False)[0]
                rows.add_line(cart, LineRow("cline_late", second, 1, 1))
                assert rows.write(session, cart, utcnow())
                written.set()
                time.sleep(1.0)

        with ThreadPoolExecutor(1) as pool:
            holding = pool.submit(add_and_hold)
            written.wait(5)
            result = CheckoutService(toolbox).complete(cart_id, None)  # waits for the lock
            holding.result()
        with toolbox.db.session() as session:
            order = session.get(Order, result.order_id)
            assert sorted(item.variant_id for item in order.items) == sorted([first, second])
    finally:
        toolbox.close()


@pytest.mark.postgres
def test_the_carts_one_read_on_postgresql_names_lines_and_options_in_the_answers_locale(make_toolbox, make_client):
    from tests.checkout.test_retries_and_shapes import _sized_variant

    toolbox = make_toolbox(database="postgres")
    client = make_client(toolbox)
    variant, plain = _sized_variant(toolbox), make_variant(toolbox)
    ru = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    client.post(f"/store/carts/{ru}/lines", json={"variant_id": plain, "quantity": 1})
    lines = client.post(f"/store/carts/{ru}/lines", json={"variant_id": variant, "quantity": 1}).json()["lines"]
    assert lines[0]["title"] == "Дрель — 18 В"
    assert lines[0]["options"] == []
    assert lines[1]["options"] == [{"name": "Размер", "value": "M"}, {"name": "colour", "value": "black"}]
    assert lines[1]["available"] and lines[1]["unit_price"] > 0

    asked = client.get(f"/store/carts/{ru}", params={"locale": "uz"}).json()  # this answer only
    assert asked["lines"][0]["title"].startswith("Drel")
    assert asked["lines"][1]["options"][0] == {"name": "O'lcham", "value": "O'rta"}
    patched = client.patch(f"/store/carts/{ru}", json={"locale": "uz"}).json()  # the cart's, in the same answer
    assert patched["locale"] == "uz" and patched["lines"][1]["options"][0] == {"name": "O'lcham", "value": "O'rta"}
    again = client.get(f"/store/carts/{ru}").json()
    assert again["lines"] == patched["lines"] and again["totals"] == patched["totals"]


@pytest.mark.postgres
def test_refused_changes_on_postgresql_write_nothing_and_say_why(make_toolbox, make_client):
    toolbox = make_toolbox(database="postgres")
    client = make_client(toolbox)
    variant = make_variant(toolbox, stock=2)
    cart = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    unknown = client.post(f"/store/carts/{cart}/lines", json={"variant_id": "var_nope", "quantity": 1})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_variant"
    assert client.post(f"/store/carts/{cart}/lines", json={"variant_id": variant, "quantity": 2}).status_code == 200
    over = client.post(f"/store/carts/{cart}/lines", json={"variant_id": variant, "quantity": 1})
    assert over.status_code == 409 and over.json()["error"]["details"]["available"] == 2
    assert client.put(f"/store/carts/{cart}/lines/{variant}", json={"quantity": 1}).json()["lines"][0]["quantity"] == 1
    gone = client.delete(f"/store/carts/{cart}/lines/{variant}")
    assert gone.status_code == 200 and gone.json()["lines"] == []
    assert client.get(f"/store/carts/{cart}").json()["lines"] == []
    missing = client.get("/store/carts/cart_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "cart_not_found"

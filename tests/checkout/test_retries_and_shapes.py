"""Issue 16 "Retries and shapes": a retried complete, a completed cart's GET, payment options,
the variant's options on cart lines, out-of-stock quantities."""

from __future__ import annotations

from tests.checkout.helpers import ADDRESS, make_variant, ready_cart


def _ready_over_http(client, toolbox, variant_id: str) -> str:
    cart_id = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant_id, "quantity": 1})
    client.patch(f"/store/carts/{cart_id}", json={"phone": "+998901234567", "address": ADDRESS})
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "flat", "option_id": "flat"})
    client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "cash_on_delivery"})
    return cart_id


def test_a_retried_complete_answers_the_same_order_with_200(client, toolbox):
    cart_id = _ready_over_http(client, toolbox, make_variant(toolbox, stock=5))
    first = client.post(f"/store/carts/{cart_id}/complete")
    assert first.status_code == 201, first.text

    again = client.post(f"/store/carts/{cart_id}/complete")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    # the retry placed nothing new
    from sqlalchemy import func, select

    from toolbox_core.orders.models import Order
    with toolbox.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_retried_complete_of_another_customers_cart_is_still_forbidden(client, toolbox):
    from tests.checkout.helpers import sign_in
    from toolbox_core.checkout.service import CheckoutService

    owner, _ = sign_in(toolbox)
    _, stranger = sign_in(toolbox, "+998907777777")
    cart_id = ready_cart(toolbox, make_variant(toolbox))
    CheckoutService(toolbox).complete(cart_id, owner)
    answer = client.post(f"/store/carts/{cart_id}/complete", headers=stranger)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "cart_forbidden"
    assert client.get(f"/store/carts/{cart_id}", headers=stranger).status_code == 403


def test_get_on_a_completed_cart_says_where_its_order_is(client, toolbox):
    cart_id = _ready_over_http(client, toolbox, make_variant(toolbox))
    order = client.post(f"/store/carts/{cart_id}/complete").json()["order"]

    seen = client.get(f"/store/carts/{cart_id}")
    assert seen.status_code == 200, seen.text
    assert seen.json() == {"id": cart_id, "status": "completed",
                           "order": {"id": order["id"], "number": order["number"], "status": "placed"}}
    assert "set-cookie" not in seen.headers, "the cookie stays for /current to replace"
    # changes still answer cart_completed, and /current still starts a fresh cart
    assert client.patch(f"/store/carts/{cart_id}", json={"email": "a@b.uz"}).json()["error"]["code"] == "cart_completed"
    client.cookies.set("toolbox_cart", cart_id)
    assert client.get("/store/carts/current").json()["id"] != cart_id


def test_a_retry_while_the_gateway_is_still_asked_is_a_clear_409(toolbox):
    import pytest

    from toolbox_core.checkout.service import completed_result
    from toolbox_core.errors import Conflict
    from toolbox_core.orders.models import Order
    from toolbox_core.payments.models import Payment

    with pytest.raises(Conflict) as caught:
        completed_result(Order(id="ord_1", number="1001", status="pending_payment", total=1),
                         Payment(id="pay_1", provider_id="payme", action=None), online=True)
    assert caught.value.code == "checkout_in_progress"


def test_payment_options_list_the_installed_providers_named_in_the_carts_locale(client, toolbox):
    ru = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    uz = client.post("/store/carts", json={"locale": "uz"}).json()["id"]

    items = client.get(f"/store/carts/{ru}/payment-options").json()["items"]
    assert {"id": "cash_on_delivery", "name": "Оплата при получении", "online": False} in items
    assert [i["id"] for i in items] == list(toolbox.payment_providers)
    uz_items = client.get(f"/store/carts/{uz}/payment-options").json()["items"]
    assert {i["id"]: i["name"] for i in uz_items}["cash_on_delivery"] == "Qabul qilganda to'lash"
    asked = client.get(f"/store/carts/{uz}/payment-options?locale=ru")  # ?locale= wins, as it says
    assert asked.headers["content-language"] == "ru"
    assert {i["id"]: i["name"] for i in asked.json()["items"]}["cash_on_delivery"] == "Оплата при получении"

    assert client.get("/store/carts/cart_nope/payment-options").json()["error"]["code"] == "cart_not_found"


def test_out_of_stock_at_checkout_says_how_many_are_available_per_sku(client, toolbox):
    from tests.checkout.helpers import stock_of
    from toolbox_core.inventory.service import apply_levels
    from toolbox_core.providers import StockLevel

    drill = make_variant(toolbox, sku="DRILL-1", stock=10)
    saw = make_variant(toolbox, sku="SAW-1", stock=10)
    from toolbox_core.cart.service import CartService
    cart_id = ready_cart(toolbox, drill, quantity=4)
    CartService(toolbox).add_line(cart_id, None, saw, 3)
    CartService(toolbox).select_shipping(cart_id, None, "flat", "flat")
    with toolbox.db.transaction() as session:  # stock sold elsewhere meanwhile
        apply_levels(session, [StockLevel("DRILL-1", 2), StockLevel("SAW-1", 0)])

    answer = client.post(f"/store/carts/{cart_id}/complete")
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "out_of_stock"
    assert error["details"]["items"] == [{"sku": "DRILL-1", "requested": 4, "available": 2},
                                         {"sku": "SAW-1", "requested": 3, "available": 0}]
    assert stock_of(toolbox, drill) == (2, 0)


def test_out_of_stock_available_is_bounded_below_the_request(toolbox):
    from toolbox_core.inventory.service import _add_available

    short = [{"sku": "A", "requested": 5}, {"sku": "B", "requested": 2}]
    # A: 4 at one location, 3 at another (one order holds at one location); B: oversold (negative)
    _add_available(short, [("A", "loc1", 4), ("A", "loc2", 3), ("B", "loc1", -3)])
    assert short == [{"sku": "A", "requested": 5, "available": 4}, {"sku": "B", "requested": 2, "available": 0}]


def test_adding_more_than_is_available_names_the_sku_and_the_available_quantity(client, toolbox):
    variant = make_variant(toolbox, sku="DRILL-2", stock=3)
    cart_id = client.post("/store/carts").json()["id"]
    answer = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 5})
    assert answer.status_code == 409
    assert answer.json()["error"]["details"]["items"] == [{"sku": "DRILL-2", "requested": 5, "available": 3}]


def _sized_variant(toolbox) -> str:
    """A product whose variant has options size=M (ru "Размер"/"M", uz "O'lcham"/"O'rta") and colour (no translation)."""
    from toolbox_core.catalog.models import (
        OptionValueTranslation,
        Product,
        ProductOption,
        ProductOptionTranslation,
        ProductOptionValue,
        ProductTranslation,
        ProductVariant,
        VariantOptionValue,
    )
    from toolbox_core.ids import new_id
    from toolbox_core.inventory.service import apply_levels
    from toolbox_core.providers import StockLevel

    with toolbox.db.transaction() as session:
        product = Product(id=new_id("prod"), handle="gloves", status="published")
        product.translations = [ProductTranslation(locale="ru", title="Перчатки")]
        variant = ProductVariant(id=new_id("var"), sku="GLOVE-M", price=50_000, weight_grams=100)
        product.variants = [variant]
        colour = ProductOption(id=new_id("opt"), code="colour", position=2)
        black = ProductOptionValue(id=new_id("val"), code="black", position=0)
        colour.values = [black]
        size = ProductOption(id=new_id("opt"), code="size", position=1)
        size.translations = [ProductOptionTranslation(locale="ru", name="Размер"),
                             ProductOptionTranslation(locale="uz", name="O'lcham")]
        medium = ProductOptionValue(id=new_id("val"), code="m", position=0)
        medium.translations = [OptionValueTranslation(locale="ru", value="M"),
                               OptionValueTranslation(locale="uz", value="O'rta")]
        size.values = [medium]
        session.add(product)
        session.flush()
        colour.product_id = size.product_id = product.id
        session.add_all([colour, size])
        session.flush()
        session.add_all([VariantOptionValue(variant_id=variant.id, value_id=black.id),
                         VariantOptionValue(variant_id=variant.id, value_id=medium.id)])
        apply_levels(session, [StockLevel("GLOVE-M", 5)])
    return variant.id


def test_a_cart_line_shows_the_variants_chosen_options_in_the_carts_locale(client, toolbox):
    variant = _sized_variant(toolbox)
    plain = make_variant(toolbox)
    ru = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    client.post(f"/store/carts/{ru}/lines", json={"variant_id": plain, "quantity": 1})
    lines = client.post(f"/store/carts/{ru}/lines", json={"variant_id": variant, "quantity": 1}).json()["lines"]
    assert lines[0]["options"] == []
    assert lines[1]["options"] == [{"name": "Размер", "value": "M"}, {"name": "colour", "value": "black"}]

    uz = client.post("/store/carts", json={"locale": "uz"}).json()["id"]
    client.post(f"/store/carts/{uz}/lines", json={"variant_id": variant, "quantity": 1})
    assert client.get(f"/store/carts/{uz}").json()["lines"][0]["options"][0] == {"name": "O'lcham", "value": "O'rta"}

"""Delivery is priced on the server: the BTS calculator (cached per route and weight bracket) or the table."""

from __future__ import annotations

import pytest
from bts_helpers import cart_with
from toolbox_bts.pricing import bracket, tariff_price
from toolbox_bts.settings import BtsSettings

from tests.fakes.bts import calculator_price


def _settings(toolbox):
    return toolbox.plugin_settings("bts")


def test_shipping_method_returns_the_calculator_price_for_the_chosen_branch(client, toolbox, bts):
    cart_id = cart_with(client, toolbox, weight_grams=1500)
    reply = client.post("/store/bts/shipping-method",
                        json={"cart_id": cart_id, "option": "branch_to_branch", "branch_code": "701"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    # branch 701 is in Qarshi (7000): priced to that city at the 2 kg bracket, in tiyin
    assert body["amount"] == calculator_price("branch_to_branch", "1000", "7000", 2.0) * 100
    assert body["price_source"] == "calculator"
    assert body["cart"]["shipping"]["data"]["branch_code"] == "701"
    assert body["cart"]["totals"]["shipping"] == body["amount"]


def test_a_price_sent_by_the_client_is_ignored(client, toolbox):
    cart_id = cart_with(client, toolbox)
    reply = client.post("/store/bts/shipping-method", json={"cart_id": cart_id, "option": "branch_to_door",
                                                            "price": 1, "amount": 1})
    assert reply.status_code == 200, reply.text
    assert reply.json()["amount"] == calculator_price("branch_to_courier", "1000", "6000", 0.5) * 100
    generic = client.post(f"/store/carts/{cart_id}/shipping",
                          json={"provider_id": "bts", "option_id": "branch_to_door", "amount": 1})
    assert generic.status_code == 422  # the kernel's endpoint refuses unknown fields outright


def test_the_calculator_is_cached_per_route_and_bracket_in_the_key_store(client, toolbox, bts):
    first = cart_with(client, toolbox, weight_grams=700)
    second = cart_with(client, toolbox, weight_grams=900)  # same route, same 1 kg bracket
    for cart_id in (first, second):
        client.post("/store/bts/shipping-method", json={"cart_id": cart_id, "option": "branch_to_door"})
    assert bts.calls["/v1/order-calculate/index"] == 1
    assert toolbox.keystore.get("bts:calc:1000:6000:1000:self") is not None


def test_a_heavy_cart_crosses_weight_brackets(client, toolbox, bts):
    settings = _settings(toolbox)
    light = cart_with(client, toolbox, weight_grams=900)
    heavy = cart_with(client, toolbox, weight_grams=4_200, quantity=3)  # 12.6 kg
    prices = {}
    for name, cart_id in (("light", light), ("heavy", heavy)):
        prices[name] = client.post("/store/bts/shipping-method",
                                   json={"cart_id": cart_id, "option": "branch_to_door"}).json()["amount"]
    assert bracket(settings, 12_600) == 15_000
    assert prices["heavy"] == calculator_price("branch_to_courier", "1000", "6000", 15.0) * 100
    assert prices["heavy"] > prices["light"]
    assert bts.calls["/v1/order-calculate/index"] == 2
    beyond = cart_with(client, toolbox, weight_grams=31_500)
    amount = client.post("/store/bts/shipping-method",
                         json={"cart_id": beyond, "option": "branch_to_door"}).json()["amount"]
    assert amount == calculator_price("branch_to_courier", "1000", "6000", 32.0) * 100  # next whole kg


def test_items_without_weight_count_the_default_weight(client, toolbox, caplog):
    cart_id = cart_with(client, toolbox, weight_grams=None, quantity=2)  # 2 × default 1 000 g
    amount = client.post("/store/bts/shipping-method",
                         json={"cart_id": cart_id, "option": "branch_to_door"}).json()["amount"]
    assert amount == calculator_price("branch_to_courier", "1000", "6000", 2.0) * 100
    assert "no weight" in caplog.text


def test_bts_down_at_checkout_is_priced_from_the_tariff_table_and_the_order_goes_through(client, toolbox, bts):
    bts.down = True
    cart_id = cart_with(client, toolbox, weight_grams=2_500)
    reply = client.post("/store/bts/shipping-method", json={"cart_id": cart_id, "option": "branch_to_door"})
    assert reply.status_code == 200, reply.text
    expected = tariff_price(_settings(toolbox), "60", "branch_to_door", 3_000)
    assert reply.json()["amount"] == expected and reply.json()["price_source"] == "tariff"
    assert client.post(f"/store/carts/{cart_id}/payment-session",
                       json={"provider_id": "cash_on_delivery"}).status_code == 200
    order = client.post(f"/store/carts/{cart_id}/complete").json()["order"]
    assert order["total"] == 15_000_000 + expected


def test_a_failing_calculator_falls_back_and_is_not_asked_again_during_the_backoff(make_toolbox, bts_settings, bts):
    from toolbox_bts import directory

    toolbox = make_toolbox(plugins=["bts"], plugin_settings={"bts": {**bts_settings,
                                                                     "calculator_backoff_seconds": 60}})
    provider = toolbox.shipping_providers["bts"]
    directory.sync(toolbox, provider.client)
    bts.fail_calculator = True
    first = provider.pricer.price("branch_to_branch", "7000", "70", 1_200)
    second = provider.pricer.price("branch_to_branch", "7000", "70", 4_000)
    assert (first.source, second.source) == ("tariff", "tariff")
    assert first.amount == tariff_price(provider.settings, "70", "branch_to_branch", 2_000)
    assert bts.calls["/v1/order-calculate/index"] == 1


def test_the_table_adds_a_price_per_extra_kg_above_its_last_step():
    settings = BtsSettings(login="a", password="b", calculator_enabled=False)
    zone = settings.zone_of("95")
    last = zone.steps[-1]
    assert tariff_price(settings, "95", "branch_to_branch", last.up_to_grams + 2_500) == \
        last.price + 3 * zone.extra_kg_price
    assert tariff_price(settings, "99", "branch_to_branch", 1_000) is None


def test_a_direction_bts_does_not_serve_is_not_offered(client, toolbox, bts):
    bts.unavailable_directions.add("branch_to_courier")
    cart_id = cart_with(client, toolbox)
    options = client.get(f"/store/carts/{cart_id}/shipping-options").json()["items"]
    assert [o["option_id"] for o in options if o["provider_id"] == "bts"] == ["branch_to_branch"]
    reply = client.post("/store/bts/shipping-method", json={"cart_id": cart_id, "option": "branch_to_door"})
    assert reply.status_code == 422


def test_careless_choices_get_clear_errors(client, toolbox):
    cart_id = cart_with(client, toolbox)
    post = lambda body: client.post("/store/bts/shipping-method", json=body)  # noqa: E731
    assert post({"cart_id": cart_id, "option": "branch_to_branch"}).json()["error"]["code"] == \
        "branch_code_required"
    assert post({"cart_id": cart_id, "option": "branch_to_branch", "branch_code": "999"}).status_code == 422
    assert post({"cart_id": cart_id, "option": "teleport"}).status_code == 422
    assert post({"cart_id": cart_id, "option": "branch_to_branch", "branch_code": "1; drop"}).status_code == 422
    assert post({"cart_id": "nope", "option": "branch_to_door"}).status_code == 404
    assert post({"cart_id": "x" * 500, "option": "branch_to_door"}).status_code == 422
    no_city = cart_with(client, toolbox, city_code=None)
    assert post({"cart_id": no_city, "option": "branch_to_door"}).status_code == 422
    generic = client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "bts",
                                                                    "option_id": "branch_to_branch"})
    assert generic.json()["error"]["code"] == "shipping_data_required"


@pytest.mark.redis
def test_the_calculator_cache_is_shared_by_processes_through_redis(make_toolbox, bts_settings, bts):
    first = make_toolbox(plugins=["bts"], plugin_settings={"bts": bts_settings}, redis=True)
    second = make_toolbox(plugins=["bts"], plugin_settings={"bts": bts_settings}, redis=True,
                          database_url=first.settings.database_url)
    one = first.shipping_providers["bts"].pricer.price("branch_to_door", "6000", "60", 1_800)
    two = second.shipping_providers["bts"].pricer.price("branch_to_door", "6000", "60", 1_900)
    assert one == two and one.source == "calculator"
    assert bts.calls["/v1/order-calculate/index"] == 1 and bts.calls["/auth/login"] == 1

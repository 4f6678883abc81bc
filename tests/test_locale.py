"""One locale rule everywhere: ``?locale=``, then the cart's locale, then ``Accept-Language``,
then the store default; kernel texts (shipping names, shopper-facing errors) in ru and uz."""

from __future__ import annotations

import pytest

from tests.checkout.helpers import PHONE, make_variant, sign_in
from toolbox_core.i18n import match_locale, negotiate

SUPPORTED = ["ru", "uz"]


# ------------------------------------------------------------------------------ the rule
@pytest.mark.parametrize(("tag", "expected"), [
    ("uz", "uz"), ("uz-Latn", "uz"), ("uz_UZ", "uz"), ("uz-Latn-UZ", "uz"), ("ru-RU", "ru"), ("RU", "ru"),
    ("uz-Cyrl", "uz"), ("fr", None), ("en-US", None), ("../etc", None), ("", None),
])
def test_tags_match_by_rfc4647_lookup(tag, expected):
    assert match_locale(tag, SUPPORTED) == expected


def test_a_script_subtag_picks_that_locale_when_the_store_has_it():
    assert match_locale("uz-Cyrl", ["ru", "uz", "uz-cyrl"]) == "uz-cyrl"
    assert match_locale("uz-Latn", ["ru", "uz", "uz-cyrl"]) == "uz"


@pytest.mark.parametrize(("header", "expected"), [
    ("ru;q=0.5, uz;q=0.9", "uz"),  # q-values, not the order of the list
    ("uz;q=0, ru", "ru"),  # q=0 means "not this one"
    ("*, uz;q=0.1", "uz"),  # the wildcard says nothing about which
    ("fr-FR, en;q=0.8, uz-UZ;q=0.7, ru;q=0.6", "uz"),
    ("fr, de", None),
    ("uz;q=abc, ru;q=0.5", "ru"),  # a malformed q-value counts as 0
])
def test_accept_language_honours_q_values(header, expected):
    assert negotiate(header, SUPPORTED) == expected


def test_an_unknown_query_locale_is_a_422_listing_the_supported_ones(client):
    response = client.get("/store/products?locale=fr", headers={"Accept-Language": "uz"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_locale"
    assert response.json()["error"]["details"] == {"supported": ["ru", "uz"]}


# ------------------------------------------------------------------------------ carts
def test_a_new_cart_takes_its_locale_from_the_request(client):
    by_header = client.post("/store/carts", headers={"Accept-Language": "uz-UZ,ru;q=0.5"})
    assert by_header.json()["locale"] == "uz"
    assert by_header.headers["content-language"] == "uz"
    assert "accept-language" in by_header.headers["vary"].lower()
    assert client.post("/store/carts?locale=uz-Latn").json()["locale"] == "uz"
    assert client.post("/store/carts", json={"locale": "uz-Latn"}, headers={"Accept-Language": "ru"}).json()["locale"] == "uz"
    assert client.post("/store/carts").json()["locale"] == "ru"
    assert client.post("/store/carts", json={"locale": "fr"}).status_code == 422


def test_a_cart_answers_in_its_locale_unless_the_query_asks_for_another(client, toolbox):
    variant = make_variant(toolbox)
    cart_id = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})

    by_cart = client.get(f"/store/carts/{cart_id}", headers={"Accept-Language": "uz"})
    assert by_cart.json()["lines"][0]["title"].startswith("Дрель")  # the cart's locale beats the header
    assert by_cart.headers["content-language"] == "ru"

    asked = client.get(f"/store/carts/{cart_id}?locale=uz")
    assert asked.json()["lines"][0]["title"].startswith("Drel")
    assert asked.json()["locale"] == "ru"  # the stored locale changes only by PATCH
    assert asked.headers["content-language"] == "uz"


def _complete(client, cart_id: str, variant: str, headers: dict[str, str] | None = None) -> None:
    headers = headers or {}
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1}, headers=headers)
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "pickup", "option_id": "pickup"}, headers=headers)
    client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "cash_on_delivery"}, headers=headers)
    assert client.post(f"/store/carts/{cart_id}/complete", headers=headers).status_code == 201


def test_patching_the_locale_answers_in_the_new_one(client, toolbox):
    variant = make_variant(toolbox)
    cart_id = client.post("/store/carts", json={"locale": "ru"}).json()["id"]
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    patched = client.patch(f"/store/carts/{cart_id}", json={"locale": "uz-Latn"})
    assert patched.json()["locale"] == "uz"
    assert patched.json()["lines"][0]["title"].startswith("Drel")
    assert patched.headers["content-language"] == "uz"
    assert client.patch(f"/store/carts/{cart_id}", json={"locale": "fr"}).json()["error"]["code"] == "unknown_locale"


def test_a_customers_fresh_cart_after_checkout_keeps_the_previous_carts_locale(client, toolbox):
    variant = make_variant(toolbox)
    _, auth = sign_in(toolbox)  # the customer's own locale is the default, ru
    cart_id = client.post("/store/carts", json={"locale": "uz", "phone": PHONE}, headers=auth).json()["id"]
    _complete(client, cart_id, variant, auth)
    client.cookies.clear()  # a customer on another device: no cart cookie

    fresh = client.get("/store/carts/current", headers={**auth, "Accept-Language": "ru"})
    assert fresh.json()["id"] != cart_id
    assert fresh.json()["locale"] == "uz"
    assert fresh.headers["content-language"] == "uz"
    assert client.get("/store/carts/current?locale=ru", headers=auth).json()["locale"] == "uz"  # same cart now
    client.cookies.clear()
    assert client.get("/store/carts/current?locale=ru", headers=auth).json()["locale"] == "ru"  # explicit wins


def test_a_guests_fresh_cart_after_checkout_keeps_the_completed_carts_locale(client, toolbox):
    variant = make_variant(toolbox)
    cart_id = client.post("/store/carts", json={"locale": "uz", "phone": PHONE}).json()["id"]
    _complete(client, cart_id, variant)
    assert client.cookies.get("toolbox_cart") == cart_id, "completing keeps the cookie for /current"

    fresh = client.get("/store/carts/current", headers={"Accept-Language": "ru"})
    assert fresh.json()["id"] != cart_id and fresh.json()["locale"] == "uz"
    assert client.cookies.get("toolbox_cart") == fresh.json()["id"]


def test_a_fresh_cart_replacing_an_expired_one_keeps_its_locale(client, toolbox):
    from sqlalchemy import update

    from toolbox_core.cart.models import Cart

    cart_id = client.post("/store/carts", json={"locale": "uz"}).json()["id"]
    with toolbox.db.transaction() as session:
        session.execute(update(Cart).where(Cart.id == cart_id).values(status="expired"))
    fresh = client.get("/store/carts/current", headers={"Accept-Language": "ru"}).json()
    assert fresh["id"] != cart_id and fresh["locale"] == "uz"


def test_a_signed_in_customers_first_cart_takes_the_customers_locale(client, toolbox):
    from sqlalchemy import update

    from toolbox_core.customers.models import Customer

    customer_id, auth = sign_in(toolbox)
    with toolbox.db.transaction() as session:
        session.execute(update(Customer).where(Customer.id == customer_id).values(locale="uz"))
    assert client.get("/store/carts/current", headers={**auth, "Accept-Language": "ru"}).json()["locale"] == "uz"


def test_a_first_cart_from_current_follows_the_header(client):
    assert client.get("/store/carts/current", headers={"Accept-Language": "uz"}).json()["locale"] == "uz"


# ------------------------------------------------------------------------------ shipping names
def _option_names(client, locale: str) -> dict[str, str]:
    cart_id = client.post("/store/carts", json={"locale": locale}).json()["id"]
    items = client.get(f"/store/carts/{cart_id}/shipping-options").json()["items"]
    return {o["option_id"]: o["name"] for o in items}


def test_shipping_option_names_are_in_the_carts_locale(client):
    assert _option_names(client, "ru") == {"pickup": "Самовывоз из магазина", "flat": "Курьер"}
    assert _option_names(client, "uz") == {"pickup": "Do'kondan olib ketish", "flat": "Kuryer"}


def test_shipping_names_per_locale_from_settings_and_a_plain_string_for_all(make_toolbox, make_client):
    toolbox = make_toolbox(checkout={"flat_shipping_name": {"ru": "Доставка за 2 часа", "uz": "2 soatda yetkazish"},
                                     "pickup_shipping_name": "Chilonzor"})
    client = make_client(toolbox)
    assert _option_names(client, "ru") == {"pickup": "Chilonzor", "flat": "Доставка за 2 часа"}
    assert _option_names(client, "uz") == {"pickup": "Chilonzor", "flat": "2 soatda yetkazish"}


def test_a_plain_string_shipping_name_still_loads_from_the_environment(monkeypatch):
    from toolbox_core.config import load_settings

    monkeypatch.setenv("TOOLBOX_CHECKOUT__FLAT_SHIPPING_NAME", "Courier")
    monkeypatch.setenv("TOOLBOX_CHECKOUT__PICKUP_SHIPPING_NAME", '{"ru": "Самовывоз", "uz": "Olib ketish"}')
    checkout = load_settings().checkout
    assert checkout.flat_shipping_name == "Courier"
    assert checkout.pickup_shipping_name == {"ru": "Самовывоз", "uz": "Olib ketish"}


def test_an_empty_or_huge_shipping_name_is_refused():
    from pydantic import ValidationError

    from toolbox_core.config import CheckoutSettings

    for bad in ("", {"ru": "x" * 201}, {}):
        with pytest.raises(ValidationError):
            CheckoutSettings(flat_shipping_name=bad)


# ------------------------------------------------------------------------------ error messages
def test_out_of_stock_is_told_in_the_carts_locale_with_a_stable_code(client, toolbox):
    variant = make_variant(toolbox, stock=2)
    cart_id = client.post("/store/carts", json={"locale": "uz"}).json()["id"]
    response = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 5},
                           headers={"Accept-Language": "ru"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "out_of_stock"
    assert error["message"] == "Omborda yetarli emas: faqat 2 dona bor"
    assert error["details"]["available"] == 2
    assert response.headers["content-language"] == "uz"

    in_ru = client.post(f"/store/carts/{cart_id}/lines?locale=ru", json={"variant_id": variant, "quantity": 5})
    assert in_ru.json()["error"]["message"] == "Недостаточно товара на складе: доступно 2 шт."


def test_cart_completed_is_told_in_the_carts_locale(client, toolbox):
    variant = make_variant(toolbox)
    cart_id = client.post("/store/carts", json={"locale": "uz", "phone": PHONE}).json()["id"]
    _complete(client, cart_id, variant)

    again = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1},
                        headers={"Accept-Language": "ru"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "cart_completed"
    assert again.json()["error"]["message"] == "Bu savat allaqachon rasmiylashtirilgan; yangisini boshlang"


def test_an_unknown_cart_is_told_by_the_header(client):
    response = client.get("/store/carts/cart_nope", headers={"Accept-Language": "uz"})
    assert response.status_code == 404
    assert response.json()["error"] == {**response.json()["error"], "code": "cart_not_found", "message": "Savat topilmadi"}
    assert response.headers["content-language"] == "uz"


def test_a_store_with_english_gets_the_kernels_english_texts(make_toolbox, make_client):
    client = make_client(make_toolbox(locales=["ru", "uz", "en"]))
    cart = client.post("/store/carts", headers={"Accept-Language": "en-GB"})
    assert cart.json()["locale"] == "en"
    names = {o["option_id"]: o["name"] for o in client.get(f"/store/carts/{cart.json()['id']}/shipping-options").json()["items"]}
    assert names == {"pickup": "Pickup from store", "flat": "Courier"}
    missing = client.get("/store/carts/cart_nope", headers={"Accept-Language": "en"})
    assert missing.json()["error"]["message"] == "no such cart"


def test_admin_errors_stay_english_for_scripts(client, toolbox):
    from tests.checkout.helpers import admin_headers

    response = client.get("/admin/orders/ord_nope", headers={**admin_headers(toolbox), "Accept-Language": "uz"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "order_not_found"
    assert not response.json()["error"]["message"].startswith("Buyurtma")
    assert "content-language" not in response.headers


def test_the_order_sms_data_names_the_shipping_in_the_customers_locale(client, toolbox):
    """``order.placed`` carries the shipping name the SMS templates print (``{shipping_name}``)."""
    from tests.checkout.helpers import ADDRESS, outbox

    variant = make_variant(toolbox)
    cart_id = client.post("/store/carts", json={"locale": "uz", "phone": PHONE}).json()["id"]
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    client.patch(f"/store/carts/{cart_id}", json={"address": ADDRESS})
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "flat", "option_id": "flat"})
    client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "cash_on_delivery"})
    assert client.post(f"/store/carts/{cart_id}/complete").status_code == 201
    [placed] = outbox(toolbox, "order.placed")
    assert placed["locale"] == "uz"
    assert placed["shipping"]["name"] == "Kuryer"


def test_the_rule_as_a_plain_function():
    from toolbox_core.i18n import resolve_locale

    assert resolve_locale("uz-Latn", "ru", SUPPORTED, "ru", scoped="ru") == "uz"
    assert resolve_locale(None, "uz", SUPPORTED, "ru", scoped="ru") == "ru"
    assert resolve_locale(None, "uz;q=0.5, ru;q=0.1", SUPPORTED, "ru") == "uz"
    assert resolve_locale(None, None, SUPPORTED, "ru", scoped="fr") == "ru"


def test_vary_keeps_what_cors_adds(make_toolbox, make_client):
    client = make_client(make_toolbox(cors_origins=["https://shop.example.uz"]))
    response = client.post("/store/carts", headers={"Origin": "https://shop.example.uz", "Accept-Language": "uz"})
    vary = {v.strip().lower() for v in response.headers["vary"].split(",")}
    assert {"origin", "accept-language"} <= vary
    assert response.headers["content-language"] == "uz"


def test_content_language_names_the_language_an_error_is_written_in(client):
    """A translated error says the shopper's language; one left in English (a validation
    message, a code with no text) says ``en``, never a language it is not in."""
    translated = client.get("/store/products/nope", headers={"Accept-Language": "uz"})
    assert translated.status_code == 404 and translated.json()["error"]["message"] == "Topilmadi"
    assert translated.headers["content-language"] == "uz"
    english = client.get("/store/products?limit=abc", headers={"Accept-Language": "uz"})
    assert english.status_code == 422 and "integer" in english.json()["error"]["message"]
    assert english.headers["content-language"] == "en"
    assert "Accept-Language" in english.headers["vary"]
    page = client.get("/store/products", headers={"Accept-Language": "uz"})
    assert page.headers["content-language"] == "uz"


def test_a_refused_quantity_is_told_in_the_carts_locale(client, toolbox):
    variant = make_variant(toolbox)
    cart_id = client.post("/store/carts", json={"locale": "uz"}).json()["id"]
    too_many = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 100_000},
                           headers={"Accept-Language": "ru"})
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "quantity_over_limit"
    assert too_many.headers["content-language"] == "uz"
    assert too_many.json()["error"]["message"] != "Не больше 1000 шт. одного товара"
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    patched = client.put(f"/store/carts/{cart_id}/lines/{variant}", json={"quantity": 100_000})
    assert patched.status_code == 422 and patched.headers["content-language"] == "uz"


# ------------------------------------------------------------------------------ the locale parameters
def _both_ways(toolbox):
    """The kernel app, and a copy whose routes solve every parameter through FastAPI."""
    from fastapi.testclient import TestClient

    from toolbox_core.app import create_app

    fast = create_app(toolbox=toolbox)
    slow = create_app(toolbox=toolbox)
    for route in slow.router.routes:
        if hasattr(route, "get_route_handler"):
            from fastapi import routing

            route.app = routing.request_response(route.get_route_handler())
    return TestClient(fast), TestClient(slow)


@pytest.mark.parametrize(("query", "headers"), [
    ({}, {}),
    ({"locale": "uz-Latn"}, {}),
    ({}, {"Accept-Language": "uz-UZ,uz;q=0.9,ru;q=0.8"}),
    ({"locale": "x" * 36}, {}),  # longer than LocaleQ allows: FastAPI's 422
    ({"%6Cocale": "x" * 36}, {}),  # the same, escaped
    ({"locale": "fr"}, {}),  # unknown: unknown_locale
    ({}, {"Accept-Language": "ru," + "x" * 500}),  # longer than AcceptLanguage allows
])
def test_locale_parameters_answer_as_fastapi_validates_them(toolbox, query, headers):
    """Localized routes skip FastAPI's solving of ``?locale=`` and ``Accept-Language`` when
    the values pass (``locale_params_valid``): the answers are those of the full solving."""
    from urllib.parse import urlencode

    fast, slow = _both_ways(toolbox)
    url = "/store/categories?" + urlencode(query, doseq=True).replace("%256C", "%6C")
    a, b = fast.get(url, headers=headers), slow.get(url, headers=headers)
    assert a.status_code == b.status_code
    assert a.headers.get("content-language") == b.headers.get("content-language")
    if a.status_code >= 400:
        ea, eb = a.json()["error"], b.json()["error"]
        assert (ea["code"], ea["message"], ea["details"]) == (eb["code"], eb["message"], eb["details"])


def test_a_repeated_locale_is_refused_before_either_value_is_read(toolbox):
    fast, _ = _both_ways(toolbox)
    answer = fast.get("/store/categories?locale=uz&locale=" + "x" * 36)
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == "locale: given 2 times; give it once"


def test_locale_parameters_are_still_documented_and_overridable(toolbox):
    from fastapi.testclient import TestClient

    from toolbox_core.app import create_app
    from toolbox_core.i18n import request_locale

    app = create_app(toolbox=toolbox)
    client = TestClient(app)
    params = client.get("/openapi.json").json()["paths"]["/store/categories"]["get"]["parameters"]
    assert {(p["in"], p["name"].lower()) for p in params} >= {("query", "locale"), ("header", "accept-language")}
    assert client.get("/store/categories", headers={"Accept-Language": "uz"}).headers["content-language"] == "uz"
    app.dependency_overrides[request_locale] = lambda: "uz"  # resolves nothing: no Content-Language
    response = client.get("/store/categories", headers={"Accept-Language": "uz"})
    assert response.status_code == 200 and "content-language" not in response.headers


def test_a_long_locale_is_refused_by_the_declared_validation(client):
    response = client.get("/store/categories", params={"locale": "x" * 36})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"][0]["loc"] == ["query", "locale"]

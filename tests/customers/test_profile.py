"""The signed-in customer's profile and addresses; admins find customers by phone or name."""

from __future__ import annotations

import pytest

from tests.customers.conftest import PHONE, sign_in
from toolbox_core.admin.auth import create_key

ADDRESS = {
    "region": "Toshkent shahri",
    "city": "Toshkent",
    "district": "Yunusobod tumani",
    "street": "Amir Temur ko'chasi, 107",
    "landmark": "Mega Planet yonida",
}


@pytest.fixture
def me(api, sms):
    """The api client, signed in (cookie) as a new customer."""
    sign_in(api, sms, name="Aziz")
    return api


def test_guest_cannot_see_a_profile(api):
    response = api.get("/store/customers/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_signed_in"
    assert api.get("/store/customers/me/addresses").status_code == 401


def test_profile_shows_and_changes(me):
    assert me.get("/store/customers/me").json()["name"] == "Aziz"
    response = me.patch("/store/customers/me", json={"name": "  Aziz Karimov ", "locale": "uz", "email": "a@b.uz"})
    assert response.status_code == 200
    assert response.json() | {} == me.get("/store/customers/me").json()
    body = response.json()
    assert (body["name"], body["locale"], body["email"], body["phone"]) == ("Aziz Karimov", "uz", "a@b.uz", PHONE)


@pytest.mark.parametrize("patch", [
    {"locale": "fr"}, {"locale": None}, {"name": ""}, {"email": "not-an-email"}, {"phone": "+998911111111"},
    {"name": 12},
])
def test_bad_profile_changes_are_refused(me, patch):
    response = me.patch("/store/customers/me", json=patch)
    assert response.status_code == 422
    assert me.get("/store/customers/me").json()["name"] == "Aziz"


def test_address_lifecycle(me):
    created = me.post("/store/customers/me/addresses", json={**ADDRESS, "phone": "90 765 43 21"})
    assert created.status_code == 201
    address = created.json()
    assert address["phone"] == "+998907654321" and address["landmark"] == ADDRESS["landmark"]
    changed = me.patch(f"/store/customers/me/addresses/{address['id']}", json={"street": "Shota Rustaveli, 1"})
    assert changed.json()["street"] == "Shota Rustaveli, 1" and changed.json()["city"] == "Toshkent"
    assert [a["id"] for a in me.get("/store/customers/me/addresses").json()["addresses"]] == [address["id"]]
    assert me.delete(f"/store/customers/me/addresses/{address['id']}").status_code == 204
    assert me.get("/store/customers/me/addresses").json()["addresses"] == []
    assert me.delete(f"/store/customers/me/addresses/{address['id']}").status_code == 404


@pytest.mark.parametrize("body", [
    {k: v for k, v in ADDRESS.items() if k != "region"},
    {**ADDRESS, "city": ""},
    {**ADDRESS, "street": "x" * 301},
    {**ADDRESS, "phone": "12345"},
    {**ADDRESS, "country": "KZ"},
])
def test_bad_address_is_refused(me, body):
    assert me.post("/store/customers/me/addresses", json=body).status_code == 422
    assert me.get("/store/customers/me/addresses").json()["addresses"] == []


def test_required_address_fields_cannot_be_cleared(me):
    address = me.post("/store/customers/me/addresses", json=ADDRESS).json()
    response = me.patch(f"/store/customers/me/addresses/{address['id']}", json={"region": None})
    assert response.status_code == 422


def test_address_count_is_limited(make_client, sms):
    client = make_client(max_addresses=2)
    sign_in(client, sms)
    assert [client.post("/store/customers/me/addresses", json=ADDRESS).status_code for _ in range(3)] == [201, 201, 409]


def test_another_customers_address_is_not_found(make_client, sms):
    client = make_client()
    sign_in(client, sms, PHONE)
    address = client.post("/store/customers/me/addresses", json=ADDRESS).json()
    client.cookies.clear()
    sign_in(client, sms, "+998931112233")
    url = f"/store/customers/me/addresses/{address['id']}"
    assert client.patch(url, json={"street": "mine now"}).status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get("/store/customers/me/addresses").json()["addresses"] == []


@pytest.fixture
def admin(api):
    _, key = create_key(api.app.state.toolbox, "support", ["customers:read"])
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def customers(make_client, sms, api):
    client = make_client()
    sign_in(client, sms, "+998901234567", name="Aziz Karimov")
    sign_in(client, sms, "+998931112233", name="Dilnoza Yusupova")
    return api


@pytest.mark.parametrize("query", ["+998901234567", "90 123 45 67", "998 (90) 123-45-67", "8 90 1234567"])
def test_admin_finds_a_customer_by_phone_in_any_format(customers, admin, query):
    response = customers.get("/admin/customers", params={"q": query}, headers=admin)
    assert [c["name"] for c in response.json()["customers"]] == ["Aziz Karimov"]


def test_admin_finds_customers_by_name_or_partial_phone(customers, admin):
    by_name = customers.get("/admin/customers", params={"q": "dilnoza"}, headers=admin).json()["customers"]
    assert [c["phone"] for c in by_name] == ["+998931112233"]
    by_digits = customers.get("/admin/customers", params={"q": "1112233"}, headers=admin).json()["customers"]
    assert [c["name"] for c in by_digits] == ["Dilnoza Yusupova"]
    assert customers.get("/admin/customers", params={"q": "%"}, headers=admin).json()["customers"] == []
    assert len(customers.get("/admin/customers", headers=admin).json()["customers"]) == 2


def test_admin_search_needs_the_customers_scope(customers):
    assert customers.get("/admin/customers").status_code == 401
    _, key = create_key(customers.app.state.toolbox, "catalog", ["catalog:write"])
    assert customers.get("/admin/customers", headers={"Authorization": f"Bearer {key}"}).status_code == 403


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1000}, {"offset": -1}, {"q": "x" * 201}])
def test_admin_search_refuses_bad_paging(customers, admin, params):
    assert customers.get("/admin/customers", params=params, headers=admin).status_code == 422

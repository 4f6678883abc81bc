"""One public address shape (``Address``) for a cart's address and a saved customer address."""

from __future__ import annotations

from tests.checkout.helpers import sign_in

FULL = {"region": "Toshkent shahri", "city": "Toshkent", "district": "Yunusobod", "street": "Amir Temur 107",
        "landmark": "Mega Planet", "postal_code": "100084", "recipient_name": "Aziz Karimov",
        "phone": "+998901234567", "region_code": "60", "city_code": "6000"}


def test_the_openapi_document_has_one_address_component_for_carts_and_saved_addresses(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "Address" in schemas
    assert not [name for name in schemas if name.startswith("Address") and name not in ("Address", "AddressList",
                                                                                        "AddressPatch")]
    ref = "#/components/schemas/Address"
    cart_body = schemas["CartUpdate"]["properties"]["address"]
    assert {"$ref": ref} in cart_body.get("anyOf", [cart_body])
    saved = doc["paths"]["/store/customers/me/addresses"]
    assert saved["post"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": ref}
    assert saved["post"]["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": ref}
    assert schemas["AddressList"]["properties"]["addresses"]["items"] == {"$ref": ref}
    assert set(schemas["Address"]["required"]) == {"region", "city"}
    assert schemas["Address"]["properties"]["id"]["readOnly"] is True


def test_a_cart_address_saves_into_the_customers_addresses_and_comes_back_unchanged(client, toolbox):
    _, auth = sign_in(toolbox)
    cart_id = client.post("/store/carts", headers=auth).json()["id"]
    cart = client.patch(f"/store/carts/{cart_id}", json={"address": FULL}, headers=auth).json()
    assert cart["address"] == FULL

    saved = client.post("/store/customers/me/addresses", json=cart["address"], headers=auth)
    assert saved.status_code == 201, saved.text
    listed = client.get("/store/customers/me/addresses", headers=auth).json()["addresses"]
    assert listed == [saved.json()]
    assert {k: v for k, v in saved.json().items() if k != "id"} == FULL

    # and back: a saved address (with its read-only id) is a valid cart address
    other = client.post("/store/carts", headers=auth).json()["id"]
    back = client.patch(f"/store/carts/{other}", json={"address": saved.json()}, headers=auth)
    assert back.status_code == 200, back.text
    assert back.json()["address"] == FULL


def test_a_pickup_address_without_street_saves_too(client, toolbox):
    _, auth = sign_in(toolbox)
    minimal = {"region": "Andijon", "city": "Andijon"}
    saved = client.post("/store/customers/me/addresses", json=minimal, headers=auth)
    assert saved.status_code == 201, saved.text
    assert saved.json()["street"] is None and saved.json()["recipient_name"] is None


def test_the_old_name_field_is_still_accepted_on_input_and_answered_as_recipient_name(client, toolbox):
    cart_id = client.post("/store/carts").json()["id"]
    cart = client.patch(f"/store/carts/{cart_id}", json={"address": {"region": "Toshkent", "city": "Toshkent",
                                                                    "name": "Aziz"}}).json()
    assert cart["address"]["recipient_name"] == "Aziz"
    assert "name" not in cart["address"]
    both = client.patch(f"/store/carts/{cart_id}", json={"address": {"region": "T", "city": "T", "name": "A",
                                                                    "recipient_name": "B"}})
    assert both.status_code == 422


def test_an_address_stored_with_the_old_name_is_answered_in_the_new_shape(client, toolbox):
    from toolbox_core.cart.models import Cart
    from toolbox_core.cart.service import CartService

    cart_id = client.post("/store/carts").json()["id"]
    with toolbox.db.transaction() as session:  # as carts saved before this version hold it
        session.get(Cart, cart_id).address = {"region": "Toshkent", "city": "Toshkent", "name": "Aziz",
                                              "postal_code": "100084"}
    address = client.get(f"/store/carts/{cart_id}").json()["address"]
    assert address["recipient_name"] == "Aziz" and address["postal_code"] == "100084" and "name" not in address
    # providers still see it, under both spellings
    view = CartService(toolbox).view(cart_id, None)
    assert view.address.recipient_name == view.address.name == "Aziz"

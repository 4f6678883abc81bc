"""Numbers an admin types into the catalog are bounded before SQL: a 422, never a 500.

A variant's weight is at most 1 000 000 g (1 t); a category's position 0..1 000 000; a price at
most 10**12 tiyin (money columns are 64-bit). Weight and position are 32-bit ``INTEGER`` columns
on PostgreSQL, so 2 147 483 648 used to fail there (and 2**63 on SQLite) as a 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.catalog.conftest import product_body
from tests.checkout.helpers import admin_headers
from tests.test_app import error_of
from toolbox_core.catalog.schemas import MAX_POSITION, MAX_PRICE_TIYIN, MAX_WEIGHT_GRAMS

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TOO_BIG = [MAX_WEIGHT_GRAMS + 1, 2**31, 2**63, 10**30]


def refused(response: Any, field: str) -> None:
    """A 422 ``invalid_input`` naming ``field``, in the one error shape."""
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_input"
    assert field in str(error["details"]), error


@pytest.fixture(params=DATABASES)
def admin_client(request: pytest.FixtureRequest, make_toolbox: Any, make_client: Any) -> tuple[Any, dict[str, str]]:
    toolbox = make_toolbox(database=request.param)
    return make_client(toolbox, raise_server_exceptions=False), admin_headers(toolbox, "catalog:write")


def test_a_variant_weight_past_a_tonne_is_refused_on_create_and_on_change(admin_client):
    client, headers = admin_client
    for weight in TOO_BIG:
        body = product_body(f"drill-{len(str(weight))}")
        body["variants"][0]["weight_grams"] = weight
        refused(client.post("/admin/products", json=body, headers=headers), "weight_grams")

    body = product_body()
    body["variants"][0]["weight_grams"] = MAX_WEIGHT_GRAMS  # the heaviest is stored as it is
    created = client.post("/admin/products", json=body, headers=headers)
    assert created.status_code == 201, created.text
    variant = created.json()["variants"][0]
    assert variant["weight_grams"] == MAX_WEIGHT_GRAMS
    for weight in [*TOO_BIG, -1]:
        refused(client.patch(f"/admin/variants/{variant['id']}", json={"weight_grams": weight}, headers=headers),
                "weight_grams")
    changed = client.patch(f"/admin/variants/{variant['id']}", json={"weight_grams": 2500}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["weight_grams"] == 2500


def test_a_price_is_what_the_price_column_holds(admin_client):
    client, headers = admin_client
    for price in [MAX_PRICE_TIYIN + 1, 2**63, 10**30]:
        refused(client.post("/admin/products", json=product_body(price=price), headers=headers), "price")
        body = product_body(price=100)
        body["variants"][0]["compare_at_price"] = price
        refused(client.post("/admin/products", json=body, headers=headers), "compare_at_price")
    created = client.post("/admin/products", json=product_body(price=MAX_PRICE_TIYIN), headers=headers)
    assert created.status_code == 201, created.text
    variant = created.json()["variants"][0]
    assert variant["price"] == MAX_PRICE_TIYIN
    refused(client.patch(f"/admin/variants/{variant['id']}", json={"price": MAX_PRICE_TIYIN + 1}, headers=headers),
            "price")


def test_a_category_position_is_zero_to_a_million(admin_client):
    client, headers = admin_client

    def category(handle: str, position: int) -> Any:
        return client.post("/admin/categories", headers=headers,
                           json={"handle": handle, "position": position, "translations": {"ru": {"name": "Дрели"}}})

    for position in [-5, MAX_POSITION + 1, 2**31, 2**63, 10**30]:
        refused(category("drills", position), "position")
    last = category("drills", MAX_POSITION)
    assert last.status_code == 201, last.text
    assert last.json()["position"] == MAX_POSITION
    first = category("saws", 0)
    assert first.status_code == 201, first.text
    refused(client.patch("/admin/categories/saws", json={"position": 2**31}, headers=headers), "position")
    refused(client.patch("/admin/categories/saws", json={"position": -1}, headers=headers), "position")


def test_a_path_key_longer_than_any_handle_is_refused(admin_client):
    client, headers = admin_client
    refused(client.get(f"/admin/products/{'x' * 201}", headers=headers), "ref")
    assert client.get(f"/admin/products/{'x' * 200}", headers=headers).status_code == 404

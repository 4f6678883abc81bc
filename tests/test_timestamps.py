"""Every timestamp of the store and admin APIs has one form: ISO-8601 UTC, ``Z``, microseconds.

The test walks the bodies of the GET endpoints the OpenAPI document lists (ids filled in from a
placed order) plus the cart, checkout and session answers, on SQLite (which hands back naive
datetimes — the case that used to leak out without a zone)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tests.checkout.helpers import ADDRESS, admin_headers, make_variant, sign_in
from toolbox_core.schemas import ISO_UTC_PATTERN, iso_utc

DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def _timestamps(body: Any, path: str = "") -> list[tuple[str, Any]]:
    """``(where, value)`` of every value that is a date-time or sits under a ``*_at`` key."""
    found: list[tuple[str, Any]] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if (key.endswith("_at") or key == "at") and value is not None and not isinstance(value, dict | list):
                found.append((f"{path}.{key}", value))
            elif isinstance(value, dict | list):
                found.extend(_timestamps(value, f"{path}.{key}"))
            elif isinstance(value, str) and DATE_LIKE.match(value):
                found.append((f"{path}.{key}", value))
    elif isinstance(body, list):
        for i, item in enumerate(body):
            found.extend(_timestamps(item, f"{path}[{i}]"))
    return found


def test_iso_utc_gives_one_form_for_naive_utc_and_offset_values():
    naive = datetime(2026, 12, 2, 17, 9, 34)
    assert iso_utc(naive) == "2026-12-02T17:09:34.000000Z"
    assert iso_utc(naive.replace(tzinfo=UTC)) == "2026-12-02T17:09:34.000000Z"
    assert iso_utc(datetime(2026, 12, 2, 22, 9, 34, 5, tzinfo=timezone(timedelta(hours=5)))) == \
        "2026-12-02T17:09:34.000005Z"
    assert iso_utc(None) is None


def test_every_timestamp_the_apis_answer_is_utc_with_z(client, toolbox):
    variant = make_variant(toolbox, stock=5)
    customer_id, auth = sign_in(toolbox)
    admin = admin_headers(toolbox)

    cart = client.post("/store/carts", json={"locale": "ru"}, headers=auth).json()
    cart_id = cart["id"]
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1}, headers=auth)
    client.patch(f"/store/carts/{cart_id}", json={"phone": "+998901234567", "address": ADDRESS}, headers=auth)
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "flat", "option_id": "flat"}, headers=auth)
    before = client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "cash_on_delivery"},
                         headers=auth).json()
    order = client.post(f"/store/carts/{cart_id}/complete", headers=auth).json()["order"]
    with toolbox.db.session() as session:
        from toolbox_core.catalog.models import ProductVariant
        product_id = session.get(ProductVariant, variant).product_id

    bodies: dict[str, Any] = {"cart": before}
    ids = {"order_id": order["id"], "id_or_number": order["number"], "ref": product_id, "product_id": product_id, "variant_id": variant,
           "customer_id": customer_id, "cart_id": cart_id}
    paths = client.get("/openapi.json").json()["paths"]
    for path, methods in paths.items():
        if "get" not in methods or not (path.startswith("/store/") or path.startswith("/admin/")):
            continue
        names = re.findall(r"{(\w+)}", path)
        if any(n not in ids for n in names):
            continue
        url = path.format(**{n: ids[n] for n in names})
        answer = client.get(url, headers=admin if path.startswith("/admin/") else auth)
        if answer.status_code == 200 and answer.headers.get("content-type", "").startswith("application/json"):
            bodies[path] = answer.json()

    for must in ("/store/customers/me", "/store/orders/{order_id}", "/admin/orders", "/admin/orders/{id_or_number}",
                 "/admin/products", "/store/carts/{cart_id}"):
        assert must in bodies, must
    seen = [(where, value) for name, body in bodies.items() for where, value in _timestamps(body, name)]
    assert len(seen) >= 8, seen
    wrong = [(where, value) for where, value in seen
             if not (isinstance(value, str) and re.match(ISO_UTC_PATTERN, value))]
    assert wrong == []

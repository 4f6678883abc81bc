"""``GET /admin/orders?q=``: staff search by number, id or phone — a phone however it is written.

Orders store ``+998XXXXXXXXX``; staff type what the customer said on the phone. A ``q`` that is an
Uzbek mobile number (the kernel's :func:`normalize_phone`) finds that phone's orders, as the
storefront's guest lookup does; a number, an id and a part of a phone keep matching.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.checkout.helpers import admin_headers, make_variant, ready_cart
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.orders.models import Order

OTHER_PHONE = "+998935550011"


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_admin_search_finds_a_phone_written_any_way_and_still_numbers_and_ids(make_toolbox, make_client, database):
    toolbox = make_toolbox(database=database)
    client = make_client(toolbox)
    variant = make_variant(toolbox, stock=5)
    mine, other = (CheckoutService(toolbox).complete(ready_cart(toolbox, variant), None).order_id for _ in range(2))
    with toolbox.db.transaction() as session:
        session.get(Order, other).phone = OTHER_PHONE  # placed with +998901234567, moved to another
        number = session.get(Order, mine).number
    headers = admin_headers(toolbox, "orders:read")

    def found(q: str) -> set[str]:
        response = client.get(f"/admin/orders?q={quote(q)}", headers=headers)
        assert response.status_code == 200, (q, response.text)
        return {o["id"] for o in response.json()["items"]}

    for written in ("+998901234567", "998901234567", "901234567", "90 123 45 67", "+998 (90) 123-45-67",
                    "8 90 123 45 67", "0099890 1234567", " 90-123-45-67 "):
        assert found(written) == {mine}, written
    assert found("93 555 00 11") == {other}
    assert found(str(number)) == found(f"#{number}") == found(mine) == {mine}
    assert found("4567") == {mine}  # part of a phone, as typed
    assert found("%") == found("_") == set()  # LIKE wildcards are text, not "everything"
    assert found("90 123") == set()  # not a whole phone, and not part of one as stored
    assert found("") == found("   ") == {mine, other}

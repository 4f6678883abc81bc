"""A store with the payme plugin enabled, served over real HTTP, and a fake Payme calling it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fakes.payme import PaymeClient
from toolbox_core.testing.shop import add_product, admin_headers, store_app

MERCHANT_ID = "5e730e8e0b852a417aa49ceb"
KEY = "prodKEY-0123456789abcdefghijklmnopqr"  # 36 characters, like a Payme kassa key
TEST_KEY = "testKEY-0123456789abcdefghijklmnopqr"
PHONE = "+998901234567"
ADDRESS = {"region": "Toshkent", "city": "Toshkent", "district": "Yunusobod", "street": "Amir Temur 1"}


@dataclass
class PaymeStore:
    """The served store, its toolbox, a storefront HTTP client and Payme's client."""

    toolbox: Any
    url: str
    http: httpx.Client
    payme: PaymeClient
    settings: dict[str, Any]
    clients: list[PaymeClient] = field(default_factory=list)

    def order(self, *, price: int = 1_500_000, quantity: int = 1, stock: int = 5, locale: str = "ru",
              provider: str = "payme", return_url: str | None = "https://shop.uz/thanks") -> dict[str, Any]:
        """Through the store API: cart → lines → phone/address → courier → payme → complete."""
        variant = add_product(self.toolbox, price=price, stock=stock)
        cart = self.http.post("/store/carts", json={"locale": locale}).json()["id"]
        steps = [
            self.http.post(f"/store/carts/{cart}/lines", json={"variant_id": variant, "quantity": quantity}),
            self.http.patch(f"/store/carts/{cart}", json={"phone": PHONE, "address": ADDRESS}),
            self.http.post(f"/store/carts/{cart}/shipping", json={"provider_id": "flat", "option_id": "flat"}),
            self.http.post(f"/store/carts/{cart}/payment-session", json={"provider_id": provider}),
        ]
        for step in steps:
            assert step.status_code < 300, step.text
        done = self.http.post(f"/store/carts/{cart}/complete", json={"return_url": return_url} if return_url else {})
        assert done.status_code == 201, done.text
        return done.json()["order"] | {"variant_id": variant}

    def client(self, key: str) -> PaymeClient:
        other = PaymeClient(self.url, key, account_field=self.settings.get("account_field", "order_id"))
        self.clients.append(other)
        return other

    def admin(self, *scopes: str) -> dict[str, str]:
        return admin_headers(self.toolbox, *scopes)

    def get_order(self, order_id: str) -> dict[str, Any]:
        response = self.http.get(f"/admin/orders/{order_id}", headers=self.admin("orders:read"))
        assert response.status_code == 200, response.text
        return response.json()

    def outbox(self, name: str) -> list[dict[str, Any]]:
        """Events written for ``name`` (through the admin events API when there is one, else the table)."""
        from sqlalchemy import text

        with self.toolbox.db.session() as session:
            rows = session.execute(text("SELECT payload FROM outbox_events WHERE name = :n ORDER BY occurred_at"),
                                   {"n": name}).scalars()
            import json

            return [row if isinstance(row, dict) else json.loads(row) for row in rows]


@pytest.fixture
def make_payme_store(make_toolbox: Callable[..., Any], serve_fake: Callable[..., str]) -> Iterator[Callable[..., PaymeStore]]:
    made: list[PaymeStore] = []

    def factory(database: str = "sqlite", **overrides: Any) -> PaymeStore:
        settings = {"merchant_id": MERCHANT_ID, "key": KEY, "test_key": TEST_KEY, "test_mode": True, **overrides}
        toolbox = make_toolbox(plugins=["payme"], plugin_settings={"payme": settings}, database=database,
                               storefront_origins=["https://shop.uz"])
        url = serve_fake(store_app(toolbox))
        key = TEST_KEY if settings["test_mode"] else KEY
        store = PaymeStore(toolbox, url, httpx.Client(base_url=url, timeout=10),
                           PaymeClient(url, key, account_field=settings.get("account_field", "order_id")), settings)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.http.close()
        store.payme.close()
        for other in store.clients:
            other.close()


@pytest.fixture
def store(make_payme_store: Callable[..., PaymeStore]) -> PaymeStore:
    """A served store (SQLite) in Payme test mode."""
    return make_payme_store()

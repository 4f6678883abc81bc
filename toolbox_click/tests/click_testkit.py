"""Helpers of the Click plugin's tests: a served store with ``click`` enabled, and Click's side of
the SHOP API (form fields signed here from the spec, independently of the plugin's code)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from toolbox_core.testing.shop import add_product, admin_headers

SERVICE_ID = 30001
MERCHANT_ID = 17001
MERCHANT_USER_ID = 40001
SECRET = "s3cr3t-click-key"
PHONE = "+998901234567"
ADDRESS = {"region": "Toshkent", "city": "Toshkent", "district": "Yunusobod", "street": "Amir Temur 1"}


def click_settings(api_url: str = "http://127.0.0.1:9/v2/merchant/", **extra: Any) -> dict[str, Any]:
    return {"service_id": SERVICE_ID, "merchant_id": MERCHANT_ID, "merchant_user_id": MERCHANT_USER_ID,
            "secret_key": SECRET, "api_url": api_url, **extra}


def sign(fields: dict[str, str], secret: str = SECRET) -> str:
    """Click's MD5, computed here from the spec: Complete (action 1) adds merchant_prepare_id."""
    prepare_id = fields.get("merchant_prepare_id", "") if fields.get("action") == "1" else ""
    text_ = (fields["click_trans_id"] + fields["service_id"] + secret + fields["merchant_trans_id"] + prepare_id
             + fields["amount"] + fields["action"] + fields["sign_time"])
    return hashlib.md5(text_.encode()).hexdigest()


@dataclass
class ClickSide:
    """Plays Click: builds signed Prepare/Complete form fields and posts them to the store."""

    base_url: str
    client: httpx.Client
    next_trans_id: int = 900_000_001
    log: list[dict[str, Any]] = field(default_factory=list)

    def new_trans_id(self) -> str:
        self.next_trans_id += 1
        return str(self.next_trans_id)

    @staticmethod
    def fields(action: int, click_trans_id: str, order_number: str, amount: str, *, prepare_id: str | None = None,
               error: str = "0", error_note: str = "Success", service_id: str = str(SERVICE_ID),
               sign_time: str = "2026-12-02 13:45:00", secret: str = SECRET) -> dict[str, str]:
        fields = {"click_trans_id": click_trans_id, "service_id": service_id,
                  "click_paydoc_id": str(int(click_trans_id) + 7), "merchant_trans_id": order_number,
                  "amount": amount, "action": str(action), "error": error, "error_note": error_note,
                  "sign_time": sign_time}
        if prepare_id is not None:
            fields["merchant_prepare_id"] = prepare_id
        fields["sign_string"] = sign(fields, secret)
        return fields

    def post(self, path: str, fields: dict[str, str]) -> dict[str, Any]:
        response = self.client.post(f"{self.base_url}{path}", data=fields)
        assert response.status_code == 200, response.text
        body = response.json()
        self.log.append(body)
        return body

    def prepare(self, click_trans_id: str, order_number: str, amount: str, **kw: Any) -> dict[str, Any]:
        return self.post("/click/prepare", self.fields(0, click_trans_id, order_number, amount, **kw))

    def complete(self, click_trans_id: str, order_number: str, amount: str, prepare_id: Any,
                 **kw: Any) -> dict[str, Any]:
        return self.post("/click/complete", self.fields(1, click_trans_id, order_number, amount,
                                                        prepare_id=str(prepare_id), **kw))


@dataclass
class Store:
    toolbox: Any
    url: str
    http: httpx.Client
    click: ClickSide

    def order(self, *, price: int = 1_500_000, quantity: int = 1, stock: int = 10,
              return_url: str | None = "https://shop.example/thanks") -> dict[str, Any]:
        """A Click order placed through the store API: cart → lines → address → shipping → click."""
        variant = add_product(self.toolbox, price=price, stock=stock)
        return place_order(self.http, self.url, variant, quantity=quantity, return_url=return_url)

    def events(self, name: str) -> int:
        with self.toolbox.db.session() as session:
            return session.scalar(text("SELECT count(*) FROM outbox_events WHERE name = :n"), {"n": name})

    def admin(self, *scopes: str) -> dict[str, str]:
        return admin_headers(self.toolbox, *scopes)


def place_order(http: httpx.Client, url: str, variant: str, *, quantity: int = 1,
                return_url: str | None = None, provider: str = "click") -> dict[str, Any]:
    def call(method: str, path: str, **kw: Any) -> dict[str, Any]:
        response = http.request(method, f"{url}{path}", **kw)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    cart = call("POST", "/store/carts", json={"locale": "ru"})["id"]
    call("POST", f"/store/carts/{cart}/lines", json={"variant_id": variant, "quantity": quantity})
    call("PATCH", f"/store/carts/{cart}", json={"phone": PHONE, "address": ADDRESS})
    call("POST", f"/store/carts/{cart}/shipping", json={"provider_id": "flat", "option_id": "flat"})
    call("POST", f"/store/carts/{cart}/payment-session", json={"provider_id": provider})
    body = {"return_url": return_url} if return_url else None
    return call("POST", f"/store/carts/{cart}/complete", json=body)["order"]


def som(tiyin: int) -> str:
    return f"{tiyin // 100}.{tiyin % 100:02d}"



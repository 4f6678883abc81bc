"""A fake BTS Express API (the current API, spec ``integrations.md`` §3.1), served over real HTTP.

It follows the spec, not our plugin:

* ``POST /auth/login`` ``{login, password}`` → ``data: {access_token, refresh_token}``;
  ``POST /auth/refresh`` ``{refresh_token}`` → a new pair; a bad token → the Yii 401 shape;
* every ``/v1`` call needs ``Authorization: Bearer <access>``; replies use the envelope
  ``{status, message, status_code, data}``; validation failures are 422 with ``errors``;
* directory: regions, cities (``regionCode``), branches (``regionCode`` AND ``cityCode``
  required), names in the ``language`` header's language, Yii pagination (``page``, ``per-page``);
* ``POST /v1/order-calculate/index`` with ``is_multiple_cost=1`` → the four directions;
* orders: ``/v1/order/add`` (BTS does not deduplicate ``clientId``: each call is a new order),
  ``/v1/order/track``, ``/v1/order/sticker`` (a PDF link), ``/v1/order-cancel/index`` (only at
  status 100; ``error.already_cancelled`` after).

Test controls: ``state.expire_access()``, ``state.revoke_refresh()``, ``state.down`` (every
call 503), ``state.fail_calculator``, ``state.set_status(order_id, code)``, ``state.calls``.
"""

from __future__ import annotations

import itertools
import secrets
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

LOGIN, PASSWORD = "shop", "s3cret"

REGIONS = {"10": {"uz": "Toshkent viloyati", "ru": "Ташкентская область"},
           "60": {"uz": "Andijon viloyati", "ru": "Андижанская область"},
           "70": {"uz": "Qashqadaryo viloyati", "ru": "Кашкадарьинская область"}}
CITIES = {"1000": ("10", {"uz": "Nurafshon", "ru": "Нурафшан"}, True),
          "6000": ("60", {"uz": "Andijon shahri", "ru": "город Андижан"}, True),
          "6001": ("60", {"uz": "Asaka", "ru": "Асака"}, False),
          "7000": ("70", {"uz": "Qarshi shahri", "ru": "город Карши"}, True)}
BRANCHES = {
    "101": ("10", "1000", {"uz": "Nurafshon filiali", "ru": "Филиал Нурафшан"}, "41.05,69.36"),
    "601": ("60", "6000", {"uz": "Andijon markaz", "ru": "Андижан центр"}, "40.7821,72.3442"),
    "602": ("60", "6000", {"uz": "Andijon bozor", "ru": "Андижан базар"}, "40.79,72.35"),
    "701": ("70", "7000", {"uz": "Qarshi filiali", "ru": "Филиал Карши"}, "38.86,65.79"),
}
#: The spec's example for 2 kg, Tashkent region → Qashqadaryo (so'm), used as the 2 kg base.
BASE_2KG = {"branch_to_branch": 76000, "branch_to_courier": 83000, "courier_to_branch": 108000,
            "courier_to_courier": 138000}
PER_KG_ABOVE_2 = 4000
SAME_REGION_DISCOUNT = 30000


def calculator_price(direction: str, sender_city: str, receiver_city: str, weight_kg: float) -> int:
    """The fake's tariff (so'm): the spec example at 2 kg, +4 000 per started kg above, cheaper within a region."""
    extra = max(0, -(-(Decimal(str(weight_kg)) - 2) // 1))
    price = BASE_2KG[direction] + int(extra) * PER_KG_ABOVE_2
    if sender_city[:2] == receiver_city[:2]:
        price -= SAME_REGION_DISCOUNT
    return price


@dataclass
class FakeBtsState:
    access: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    down: bool = False
    fail_calculator: bool = False
    unavailable_directions: set[str] = field(default_factory=set)
    base_url: str = ""
    _ids: Any = field(default_factory=lambda: itertools.count(5001))

    def issue(self) -> dict[str, str]:
        access, refresh = secrets.token_hex(8), secrets.token_hex(8)
        self.access.add(access)
        self.refresh.add(refresh)
        return {"access_token": access, "refresh_token": refresh}

    def expire_access(self) -> None:
        self.access.clear()

    def revoke_refresh(self) -> None:
        self.refresh.clear()

    def set_status(self, order_id: int, code: int) -> None:
        self.orders[order_id]["status"] = code

    def orders_for(self, client_id: str) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o["body"].get("clientId") == client_id]


STATUS_NAMES = {100: "У отправителя", 200: "Курьер принял", 700: "В пути", 800: "В офисе доставки",
                1200: "Доставлен", 1300: "Отменён", 1400: "Срок истёк"}


def ok(data: Any) -> JSONResponse:
    return JSONResponse({"status": True, "message": "success", "status_code": 200, "data": data})


def fail(message: str, code: int = 400) -> JSONResponse:
    return JSONResponse({"status": False, "message": message, "status_code": code, "data": None}, status_code=200)


def invalid(errors: dict[str, list[str]]) -> JSONResponse:
    return JSONResponse({"status": False, "message": "Validation failed", "status_code": 422, "errors": errors},
                        status_code=422)


UNAUTHORIZED = {"name": "Unauthorized", "message": "Your request was made with invalid credentials.", "code": 0,
                "status": 401, "type": "yii\\web\\UnauthorizedHttpException"}


def _page(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    page = int(request.query_params.get("page", 1))
    size = min(int(request.query_params.get("per-page", 20)), 200)
    chunk = items[(page - 1) * size: page * size]
    return {"items": chunk, "_meta": {"totalCount": len(items), "pageCount": -(-len(items) // size) or 1,
                                      "currentPage": page, "perPage": size}}


def create_fake_bts() -> tuple[FastAPI, FakeBtsState]:
    app = FastAPI()
    state = FakeBtsState()

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Any:
        state.calls[request.url.path] += 1
        if state.down:
            return Response("Service Unavailable", status_code=503)
        if request.url.path.startswith("/v1/"):
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in state.access:
                return JSONResponse(UNAUTHORIZED, status_code=401)
        return await call_next(request)

    @app.post("/auth/login")
    async def login(request: Request) -> Any:
        body = await request.json()
        missing = {k: [f"{k} cannot be blank."] for k in ("login", "password") if not body.get(k)}
        if missing:
            return invalid(missing)
        if (body["login"], body["password"]) != (LOGIN, PASSWORD):
            return invalid({"password": ["Incorrect login or password."]})
        return ok(state.issue())

    @app.post("/auth/refresh")
    async def refresh(request: Request) -> Any:
        token = (await request.json()).get("refresh_token")
        if token not in state.refresh:
            return invalid({"refresh_token": ["Refresh token is invalid or expired."]})
        state.refresh.discard(token)
        return ok(state.issue())

    def lang(request: Request) -> str:
        return request.headers.get("language", "uz") if request.headers.get("language") in ("uz", "ru") else "uz"

    @app.get("/v1/directory/regions")
    async def regions(request: Request) -> Any:
        items = [{"code": code, "name": names[lang(request)]} for code, names in REGIONS.items()]
        return ok(_page(items, request))

    @app.get("/v1/directory/cities")
    async def cities(request: Request) -> Any:
        region = request.query_params.get("regionCode")
        items = [{"code": code, "name": names[lang(request)], "regionCode": reg, "office_exists": office}
                 for code, (reg, names, office) in CITIES.items() if reg == region]
        return ok(_page(items, request))

    @app.get("/v1/directory/branches")
    async def branches(request: Request) -> Any:
        region, city = request.query_params.get("regionCode"), request.query_params.get("cityCode")
        if not region or not city:
            return invalid({k: [f"{k} cannot be blank."] for k, v in (("regionCode", region), ("cityCode", city))
                            if not v})
        hours = {str(d): "09:00-18:00" for d in range(1, 7)} | {"7": None}
        items = [{"code": code, "name": names[lang(request)], "regionCode": reg, "cityCode": cty,
                  "address": f"{names[lang(request)]}, 1", "lat_long": ll, "phone": "+998712000000",
                  "working_hours": hours}
                 for code, (reg, cty, names, ll) in BRANCHES.items() if reg == region and cty == city]
        return ok(_page(items, request))

    @app.post("/v1/order-calculate/index")
    async def calculate(request: Request) -> Any:
        if state.fail_calculator:
            return Response("Internal Server Error", status_code=500)
        body = await request.json()
        errors = {k: [f"{k} cannot be blank."] for k in ("senderCityCode", "receiverCityCode", "pickup_type",
                                                          "dropoff_type", "weight") if body.get(k) in (None, "")}
        if errors:
            return invalid(errors)
        if body["receiverCityCode"] not in CITIES or body["senderCityCode"] not in CITIES:
            return invalid({"receiverCityCode": ["City not found."]})
        weight = float(body["weight"])
        result = {}
        for direction in BASE_2KG:
            if direction in state.unavailable_directions:
                result[direction] = {"available": False, "price": None, "reason": "not served"}
            else:
                result[direction] = {"available": True, "reason": None,
                                     "price": calculator_price(direction, body["senderCityCode"],
                                                               body["receiverCityCode"], weight)}
        if str(body.get("is_multiple_cost", 0)) == "1":
            return ok(result)
        key = f"{'branch' if body['pickup_type'] in ('branch', 'self') else 'courier'}_to_" \
              f"{'branch' if body['dropoff_type'] == 'branch' else 'courier'}"
        return ok({"all_cost": result[key]["price"]})

    @app.post("/v1/order/add")
    async def add(request: Request) -> Any:
        body = await request.json()
        errors: dict[str, list[str]] = {}
        for key in ("clientId", "pickup_type", "dropoff_type"):
            if not body.get(key):
                errors[key] = [f"{key} cannot be blank."]
        receiver, sender, cargo = body.get("receiver") or {}, body.get("sender") or {}, body.get("cargo") or {}
        if not str(receiver.get("phone", "")).startswith("+998") or len(str(receiver.get("phone", ""))) != 13:
            errors["receiver.phone"] = ["Phone must be +998XXXXXXXXX."]
        if not receiver.get("city_code"):
            errors["receiver.city_code"] = ["City code cannot be blank."]
        if body.get("dropoff_type") == "branch" and not receiver.get("branch_code"):
            errors["receiver.branch_code"] = ["Branch code cannot be blank."]
        if not sender.get("city_code"):
            errors["sender.city_code"] = ["City code cannot be blank."]
        if not 0.001 <= float(cargo.get("weight") or 0) <= 10000:
            errors["cargo.weight"] = ["Weight must be between 0.001 and 10000."]
        if errors:
            return invalid(errors)
        order_id = next(state._ids)
        barcode = f"BTS{order_id:09d}"
        direction = f"{'branch' if body['pickup_type'] == 'self' else 'courier'}_to_" \
                    f"{'branch' if body['dropoff_type'] == 'branch' else 'courier'}"
        cost = calculator_price(direction, sender["city_code"], receiver["city_code"], float(cargo["weight"]))
        state.orders[order_id] = {"body": body, "status": 100, "barcode": barcode, "cost": cost}
        return ok({"orderId": order_id, "clientId": body["clientId"], "barcode": barcode, "cost": cost,
                   "senderDate": "2026-12-02", "receiverDate": "2026-12-03",
                   "tracking": f"https://bts.uz/uz/waybill-tracking?term={barcode}",
                   "status": {"code": 100, "info": STATUS_NAMES[100]}})

    def _order(request: Request) -> dict[str, Any] | None:
        try:
            return state.orders.get(int(request.query_params.get("orderId", "")))
        except ValueError:
            return None

    @app.get("/v1/order/track")
    async def track(request: Request) -> Any:
        order = _order(request)
        if order is None:
            return fail("error.order_not_found", 404)
        order_id = int(request.query_params["orderId"])
        return ok({"orderId": order_id, "status": {"code": order["status"],
                                                   "name": STATUS_NAMES.get(order["status"], "")}})

    @app.get("/v1/order-cancel/index")
    async def cancel(request: Request) -> Any:
        order = _order(request)
        if order is None:
            return fail("error.order_not_found", 404)
        if order["status"] == 1300:
            return fail("error.already_cancelled")
        if order["status"] != 100:
            return fail("error.cannot_cancel")
        order["status"] = 1300
        return ok({"orderId": int(request.query_params["orderId"])})

    @app.get("/v1/order/sticker")
    async def sticker(request: Request) -> Any:
        order = _order(request)
        if order is None:
            return fail("error.order_not_found", 404)
        order_id = request.query_params["orderId"]
        return ok({"labelEncode": "base64-not-used", "labelSticker": f"{state.base_url}/files/sticker-{order_id}.pdf"})

    @app.get("/files/sticker-{order_id}.pdf")
    async def sticker_file(order_id: str) -> Any:
        return Response(b"%PDF-1.4\n% BTS sticker " + order_id.encode(), media_type="application/pdf")

    return app, state

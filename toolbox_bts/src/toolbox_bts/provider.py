"""The ``bts`` shipping provider: prices on the server, creates, cancels, labels and tracks shipments."""

from __future__ import annotations

import json
import logging
import re
from functools import cached_property
from typing import Any

from toolbox_bts import directory
from toolbox_bts.client import BtsApiError, BtsClient, BtsError, BtsUnavailable
from toolbox_bts.pricing import Pricer, som_to_tiyin, tiyin_to_som
from toolbox_bts.settings import BtsSettings
from toolbox_bts.tracking import CREATED, map_status
from toolbox_core.api import (
    CartView,
    Conflict,
    InvalidInput,
    LineView,
    RetryLater,
    ServiceUnavailable,
    ShipmentDraft,
    ShipmentLabel,
    ShipmentRequest,
    ShipmentView,
    ShippingQuote,
    Toolbox,
    TrackingUpdate,
)

log = logging.getLogger("toolbox.bts")

BRANCH, DOOR = "branch_to_branch", "branch_to_door"
_CODE = re.compile(r"^[0-9]{1,20}$")
SHIPMENT_KEY = "bts:shipment:{number}"
SHIPMENT_LOCK = "bts:shipment-lock:{number}"


def total_weight(settings: BtsSettings, lines: tuple[LineView, ...]) -> int:
    """Grams of the lines; a unit without a weight counts ``default_weight_grams`` (logged for ops)."""
    unknown = [line.sku for line in lines if line.weight_grams is None]
    if unknown:
        log.warning("BTS: no weight for %s; counting %s g each (set the variants' weight)",
                    ", ".join(unknown[:10]), settings.default_weight_grams)
    return sum((line.weight_grams or settings.default_weight_grams) * line.quantity for line in lines)


class BtsProvider:
    """BTS Express: branch-to-branch (pickup at a BTS branch) and branch-to-door (courier)."""

    id = "bts"
    name = "BTS Express"

    def __init__(self, toolbox: Toolbox, settings: BtsSettings) -> None:
        self.toolbox = toolbox
        self.settings = settings

    @cached_property
    def client(self) -> BtsClient:
        return BtsClient(self.settings, self.toolbox.keystore)

    @cached_property
    def pricer(self) -> Pricer:
        return Pricer(self.settings, self.toolbox.keystore, self.client)

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()

    # -------------------------------------------------------------- pricing
    def options(self) -> tuple[str, ...]:
        return tuple(o for o, on in ((BRANCH, self.settings.branch_to_branch), (DOOR, self.settings.branch_to_door))
                     if on)

    def _name(self, option: str, locale: str) -> str:
        names = self.settings.name_branch_to_branch if option == BRANCH else self.settings.name_branch_to_door
        return names.get(locale) or next(iter(names.values()), option)

    def _quote(self, cart: CartView, option: str, city: str, region: str | None,
               extra: dict[str, Any] | None = None) -> ShippingQuote | None:
        grams = total_weight(self.settings, cart.lines)
        price = self.pricer.price(option, city, region, grams)
        if price is None:
            return None
        data = {"option": option, "receiver_city_code": city, "receiver_region_code": region,
                "weight_grams": grams, "bracket_grams": price.bracket_grams, "price_source": price.source,
                **(extra or {})}
        return ShippingQuote(self.id, option, self._name(option, cart.locale), price.amount, data=data,
                             requires_address=option == DOOR,
                             requires_data=("branch_code",) if option == BRANCH and "branch_code" not in data else ())

    def quote(self, cart: CartView) -> list[ShippingQuote]:
        """Options for the cart's address city (its ``city_code``); none without one."""
        address = cart.address
        if not cart.lines or address is None or not address.city_code:
            return []
        quotes = [self._quote(cart, option, address.city_code, address.region_code) for option in self.options()]
        return [q for q in quotes if q is not None]

    def validate_option(self, cart: CartView, option_id: str, data: dict[str, Any]) -> ShippingQuote:
        """Branch-to-branch with ``{"branch_code"}``: priced to that branch's city."""
        if option_id not in self.options():
            raise InvalidInput(f"BTS option {option_id!r} is not offered", code="unknown_shipping_option",
                               details={"available": list(self.options())})
        unknown = set(data) - {"branch_code"}
        if unknown:
            raise InvalidInput(f"unexpected shipping data: {', '.join(sorted(unknown))}",
                               code="invalid_shipping_data")
        if option_id == DOOR:
            raise InvalidInput("branch-to-door takes no branch; set the address city_code",
                               code="invalid_shipping_data")
        code = str(data.get("branch_code", ""))
        if not _CODE.match(code):
            raise InvalidInput("branch_code must be a BTS branch code (digits)", code="invalid_branch_code")
        found = directory.branch(self.toolbox, code, cart.locale)
        if found is None:
            raise InvalidInput(f"no BTS branch {code!r}", code="unknown_bts_branch")
        quote = self._quote(cart, BRANCH, found["city_code"], found["region_code"], {
            "branch_code": code, "branch_name": found["name"], "branch_address": found["address"]})
        if quote is None:
            raise InvalidInput("BTS does not deliver to this branch", code="shipping_unavailable_for_branch")
        return quote

    # -------------------------------------------------------------- shipments
    def _order_body(self, order: ShipmentRequest) -> dict[str, Any]:
        data = order.shipping.get("data") or {}
        option = order.shipping.get("option_id") or data.get("option")
        address = order.address
        receiver: dict[str, Any] = {
            "name": (address.name if address and address.name else None) or order.phone,
            "phone": (address.phone if address and address.phone else None) or order.phone,
            "city_code": data.get("receiver_city_code") or (address.city_code if address else None),
        }
        if option == BRANCH:
            receiver["branch_code"] = data.get("branch_code")
        if address is not None:
            parts = [address.region, address.city, address.district, address.street, address.landmark]
            receiver["address"] = ", ".join(p for p in parts if p)[:300]
        sender = {"name": self.settings.sender_name, "phone": self.settings.sender_phone,
                  "address": self.settings.sender_address, "city_code": self.settings.sender_city_code}
        if self.settings.sender_branch_code:
            sender["branch_code"] = self.settings.sender_branch_code
        cod = order.cash_on_delivery if self.settings.cash_on_delivery else 0
        grams = total_weight(self.settings, order.lines)
        return {
            "clientId": order.order_number,
            "pickup_type": self.settings.pickup_type,
            "dropoff_type": "branch" if option == BRANCH else "courier",
            "sender": sender, "receiver": receiver,
            "bringBackMoney": 1 if cod else 0, "back_money": tiyin_to_som(cod) if cod else 0,
            "takePhoto": 0, "bringBackWaybill": 0,
            "cargo": {"weight": max(grams, 1) / 1000, "piece": 1, "packageId": self.settings.package_id,
                      "postTypeId": self.settings.post_type_id,
                      "postTypes": [{"name": line.title[:100], "code": line.sku[:50], "count": line.quantity,
                                     "cost": tiyin_to_som(line.unit_price)} for line in order.lines]},
        }

    def create_shipment(self, order: ShipmentRequest) -> ShipmentDraft:
        """Create the BTS order, once per our order number (BTS ``clientId``).

        The answer is kept in the key store before we return, so a retry after a crash (or a
        second worker) reuses it instead of creating a second BTS order.
        """
        key = SHIPMENT_KEY.format(number=order.order_number)
        kept = self.toolbox.keystore.get(key)
        if kept is None:
            lock = SHIPMENT_LOCK.format(number=order.order_number)
            if not self.toolbox.keystore.set_if_absent(lock, "1", int(self.settings.timeout_seconds) * 3):
                raise RetryLater("another worker is creating this BTS shipment", after=5)
            try:
                kept = self.toolbox.keystore.get(key)
                if kept is None:
                    try:
                        data = self.client.call("POST", "/v1/order/add", json=self._order_body(order))
                    except BtsUnavailable as exc:
                        raise RetryLater(f"BTS unavailable: {exc.message}", after=60) from exc
                    kept = json.dumps(data if isinstance(data, dict) else {})
                    self.toolbox.keystore.set(key, kept, 30 * 86400)
            finally:
                self.toolbox.keystore.delete(lock)
        data = json.loads(kept)
        status = data.get("status") if isinstance(data.get("status"), dict) else {}
        code = str(status.get("code") or CREATED)
        return ShipmentDraft(
            external_id=str(data["orderId"]) if data.get("orderId") is not None else None,
            tracking_number=str(data["barcode"]) if data.get("barcode") else None,
            tracking_url=str(data["tracking"])[:1000] if data.get("tracking") else None,
            cost=som_to_tiyin(data.get("cost")) if data.get("cost") is not None else None,
            status=map_status(code) or "created",
            data={"bts_order_id": data.get("orderId"), "barcode": data.get("barcode"), "status_code": code,
                  "sender_date": data.get("senderDate"), "receiver_date": data.get("receiverDate")},
        )

    def _order_id(self, shipment: ShipmentView) -> str:
        if not shipment.external_id:
            raise Conflict("this shipment has no BTS order id", code="bts_order_missing")
        return shipment.external_id

    def cancel_shipment(self, shipment: ShipmentView) -> None:
        """Cancel at BTS; only while the parcel is still at the sender (status 100)."""
        if shipment.carrier_status not in (None, CREATED) or shipment.status != "created":
            raise Conflict("BTS cancels only shipments still at the sender", code="bts_cancel_not_allowed")
        try:
            self.client.call("GET", "/v1/order-cancel/index", params={"orderId": self._order_id(shipment)})
        except BtsApiError as exc:
            if "already_cancelled" in exc.message:
                return
            raise Conflict(f"BTS refused to cancel: {exc.message}", code="bts_cancel_not_allowed") from exc
        except BtsError as exc:
            raise ServiceUnavailable(f"BTS unavailable: {exc.message}", code="bts_unavailable") from exc

    def label(self, shipment: ShipmentView) -> ShipmentLabel:
        """The sticker PDF (fetched from the link BTS gives)."""
        try:
            data = self.client.call("GET", "/v1/order/sticker", params={"orderId": self._order_id(shipment)})
            url = (data or {}).get("labelSticker") if isinstance(data, dict) else None
            if not url:
                raise ServiceUnavailable("BTS returned no label", code="label_unavailable")
            try:
                return ShipmentLabel(content=self.client.download(str(url)), url=str(url))
            except BtsError:
                return ShipmentLabel(url=str(url))
        except BtsError as exc:
            raise ServiceUnavailable(f"BTS unavailable: {exc.message}", code="bts_unavailable") from exc

    def track(self, shipment: ShipmentView) -> TrackingUpdate | None:
        data = self.client.call("GET", "/v1/order/track", params={"orderId": self._order_id(shipment)})
        status = (data or {}).get("status") if isinstance(data, dict) else None
        code = status.get("code", status.get("id")) if isinstance(status, dict) else status
        mapped = map_status(code) if code is not None else None
        if mapped is None:
            return None
        name = status.get("name", "") if isinstance(status, dict) else ""
        return TrackingUpdate(mapped, carrier_status=str(code), message=f"BTS {code} {name}".strip())

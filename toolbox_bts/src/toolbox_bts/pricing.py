"""Delivery prices, always computed on the server.

* Weight: the variants' grams; a unit without a weight counts ``default_weight_grams``.
* The weight is rounded UP to its bracket (``weight_brackets_grams``; above the last, to the
  next whole kilogram) and the price asked for that bracket, so one calculator answer is cached
  for every cart of the same route and bracket — in the key store (Redis or the database),
  never in process memory — for ``calculator_cache_seconds``.
* The BTS calculator (``is_multiple_cost=1``: all four directions in one call) when enabled
  and reachable; else the zone-and-weight tariff table from settings. After a failed call the
  table is used for ``calculator_backoff_seconds`` without asking BTS again (a key-store flag,
  shared by every process), so checkout stays fast while BTS is down.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from toolbox_bts.client import BtsClient, BtsError
from toolbox_bts.settings import BtsSettings
from toolbox_core.api import KeyStore, KeyStoreUnavailable

log = logging.getLogger("toolbox.bts")

DOWN_KEY = "bts:calc:down"
DIRECTIONS = ("branch_to_branch", "branch_to_courier", "courier_to_branch", "courier_to_courier")


@dataclass(frozen=True)
class Price:
    amount: int  # tiyin
    source: str  # "calculator" or "tariff"
    bracket_grams: int


def som_to_tiyin(value: Any) -> int | None:
    """A BTS price (so'm, number or string) as integer tiyin; ``None`` when not a price."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def tiyin_to_som(value: int) -> int | str:
    """Tiyin as so'm for BTS: an integer when whole, else an exact decimal string."""
    if value % 100 == 0:
        return value // 100
    return str(Decimal(value) / 100)


def bracket(settings: BtsSettings, grams: int) -> int:
    """The upper bound of ``grams``' weight bracket (above the last: the next whole kilogram)."""
    for bound in settings.weight_brackets_grams:
        if grams <= bound:
            return bound
    return int(math.ceil(grams / 1000) * 1000)


def direction(settings: BtsSettings, option: str) -> str:
    """The calculator's key for an option, given how parcels reach BTS (``pickup_type``)."""
    origin = "branch" if settings.pickup_type == "self" else "courier"
    return f"{origin}_to_{'branch' if option == 'branch_to_branch' else 'courier'}"


def tariff_price(settings: BtsSettings, region_code: str | None, option: str, grams: int) -> int | None:
    """The settings' table price for the destination region, or ``None`` if no zone lists it."""
    zone = settings.zone_of(region_code or "")
    if zone is None:
        return None
    last = zone.steps[-1]
    step = next((s for s in zone.steps if grams <= s.up_to_grams), None)
    if step is not None:
        price = step.price
    else:
        price = last.price + math.ceil((grams - last.up_to_grams) / 1000) * zone.extra_kg_price
    return price + (zone.door_surcharge if option == "branch_to_door" else 0)


class Pricer:
    """Prices BTS options for a route and weight, from the cached calculator or the table."""

    def __init__(self, settings: BtsSettings, keystore: KeyStore, client: BtsClient) -> None:
        self.settings = settings
        self.keystore = keystore
        self.client = client

    def _cache_key(self, sender: str, receiver: str, grams: int) -> str:
        return f"bts:calc:{sender}:{receiver}:{grams}:{self.settings.pickup_type}"

    def calculator(self, receiver_city: str, grams: int) -> dict[str, int | None] | None:
        """Prices of the four directions (tiyin; ``None``: not available), cached; ``None`` if BTS fails."""
        sender = self.settings.sender_city_code
        key = self._cache_key(sender, receiver_city, grams)
        try:
            cached = self.keystore.get(key)
            if cached is not None:
                return json.loads(cached)
            if self.keystore.get(DOWN_KEY):
                return None
        except KeyStoreUnavailable:
            log.warning("key store unavailable; BTS calculator not cached")
        try:
            data = self.client.call("POST", "/v1/order-calculate/index", json={
                "senderCityCode": sender, "receiverCityCode": receiver_city,
                "pickup_type": "branch" if self.settings.pickup_type == "self" else "courier",
                "dropoff_type": "branch", "is_multiple_cost": 1, "weight": grams / 1000,
            })
        except BtsError as exc:
            log.warning("BTS calculator failed (%s); pricing from the tariff table", exc.message)
            if self.settings.calculator_backoff_seconds:
                with contextlib.suppress(KeyStoreUnavailable):
                    self.keystore.set(DOWN_KEY, "1", self.settings.calculator_backoff_seconds)
            return None
        prices: dict[str, int | None] = {}
        for name in DIRECTIONS:
            entry = (data or {}).get(name) if isinstance(data, dict) else None
            available = isinstance(entry, dict) and entry.get("available", True) not in (False, 0, "0")
            prices[name] = som_to_tiyin(entry.get("price")) if available else None
        if all(p is None for p in prices.values()):
            log.warning("BTS calculator returned no usable price for %s→%s", sender, receiver_city)
            return None
        with contextlib.suppress(KeyStoreUnavailable):
            self.keystore.set(key, json.dumps(prices), self.settings.calculator_cache_seconds)
        return prices

    def price(self, option: str, receiver_city: str, receiver_region: str | None, weight_grams: int) -> Price | None:
        """The price of ``option`` to ``receiver_city`` for ``weight_grams``; ``None``: not offered."""
        grams = bracket(self.settings, weight_grams)
        if self.settings.calculator_enabled:
            prices = self.calculator(receiver_city, grams)
            if prices is not None:
                amount = prices.get(direction(self.settings, option))
                return Price(amount, "calculator", grams) if amount is not None else None
        amount = tariff_price(self.settings, receiver_region or receiver_city[:2], option, grams)
        return Price(amount, "tariff", grams) if amount is not None else None

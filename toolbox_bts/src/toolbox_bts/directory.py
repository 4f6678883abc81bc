"""The BTS directory: synced from BTS into our tables, served from them (BTS may be down).

The sync fetches everything first (outside any transaction), in each store locale (BTS names
come back in the ``language`` header's language), then writes it in one transaction: rows
seen are upserted and active, rows BTS no longer lists are kept but marked inactive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from toolbox_bts.client import BtsClient
from toolbox_bts.models import BtsBranch, BtsCity, BtsRegion
from toolbox_core.api import Progress, Toolbox, utcnow

log = logging.getLogger("toolbox.bts")


@dataclass
class SyncReport:
    regions: int = 0
    cities: int = 0
    branches: int = 0
    deactivated: int = 0
    locales: list[str] = field(default_factory=list)


def _text(value: Any, limit: int = 500) -> str:
    return str(value or "").strip()[:limit]


def _lat_lng(value: Any) -> tuple[float | None, float | None]:
    try:
        lat, lng = (float(part) for part in str(value).split(",", 1))
    except (TypeError, ValueError):
        return None, None
    if -90 <= lat <= 90 and -180 <= lng <= 180:
        return lat, lng
    return None, None


def _hours(value: Any) -> dict[str, str | None]:
    if not isinstance(value, dict):
        return {}
    return {str(day): (_text(v, 40) or None) for day, v in value.items() if str(day) in "1234567"}


def _locales(toolbox: Toolbox) -> list[str]:
    return [loc for loc in toolbox.settings.locales if loc in ("uz", "ru")] or ["uz"]


def fetch(client: BtsClient, locales: list[str], progress: Progress | None = None) -> dict[str, Any]:
    """Everything BTS lists, names per locale: ``{"regions": {...}, "cities": {...}, "branches": {...}}``."""
    regions: dict[str, dict[str, Any]] = {}
    cities: dict[str, dict[str, Any]] = {}
    branches: dict[str, dict[str, Any]] = {}
    for locale in locales:
        for item in client.paged("/v1/directory/regions", {}, language=locale):
            code = _text(item.get("code"), 10)
            if code:
                regions.setdefault(code, {"names": {}})["names"][locale] = _text(item.get("name"), 200)
        for region_code in list(regions):
            for item in client.paged("/v1/directory/cities", {"regionCode": region_code}, language=locale):
                code = _text(item.get("code"), 10)
                if not code:
                    continue
                city = cities.setdefault(code, {"region_code": region_code, "names": {},
                                                "office_exists": item.get("office_exists")})
                city["names"][locale] = _text(item.get("name"), 200)
        for code, city in cities.items():
            if city["office_exists"] in (False, 0, "0"):
                continue  # BTS says the city has no branch: no call
            found = client.paged("/v1/directory/branches", {"regionCode": city["region_code"], "cityCode": code},
                                 language=locale)
            for item in found:
                branch_code = _text(item.get("code"), 20)
                if not branch_code:
                    continue
                lat, lng = _lat_lng(item.get("lat_long"))
                branch = branches.setdefault(branch_code, {
                    "region_code": _text(item.get("regionCode"), 10) or city["region_code"],
                    "city_code": _text(item.get("cityCode"), 10) or code, "names": {}, "addresses": {},
                    "latitude": lat, "longitude": lng, "phone": _text(item.get("phone"), 40) or None,
                    "working_hours": _hours(item.get("working_hours")),
                })
                branch["names"][locale] = _text(item.get("name"), 200)
                branch["addresses"][locale] = _text(item.get("address"), 500)
        if progress is not None:
            progress.message(f"fetched the BTS directory in {locale}")
            progress.advance(1)
    return {"regions": regions, "cities": cities, "branches": branches}


def store(toolbox: Toolbox, fetched: dict[str, Any]) -> SyncReport:
    """Write a fetched directory in one transaction; returns the counts."""
    now = utcnow()
    report = SyncReport()
    with_branches = {b["city_code"] for b in fetched["branches"].values()}
    with toolbox.db.transaction() as session:
        for model, rows, extra in (
            (BtsRegion, fetched["regions"], lambda code, row: {}),
            (BtsCity, fetched["cities"], lambda code, row: {"region_code": row["region_code"],
                                                              "has_branches": code in with_branches}),
            (BtsBranch, fetched["branches"], lambda code, row: {k: v for k, v in row.items() if k != "names"}),
        ):
            existing = {r.code: r for r in session.scalars(select(model))}
            for code, row in rows.items():
                values = {"names": row["names"], "active": True, "synced_at": now, **extra(code, row)}
                current = existing.pop(code, None)
                if current is None:
                    session.add(model(code=code, **values))
                else:
                    for key, value in values.items():
                        setattr(current, key, value)
            for gone in existing.values():
                if gone.active:
                    gone.active = False
                    report.deactivated += 1
        report.regions, report.cities = len(fetched["regions"]), len(fetched["cities"])
        report.branches = len(fetched["branches"])
    return report


def sync(toolbox: Toolbox, client: BtsClient, progress: Progress | None = None) -> SyncReport:
    """Fetch the whole directory from BTS and store it."""
    locales = _locales(toolbox)
    fetched = fetch(client, locales, progress)
    if not fetched["regions"]:
        raise RuntimeError("BTS listed no regions; keeping our copy")
    report = store(toolbox, fetched)
    report.locales = locales
    log.info("BTS directory synced: %s regions, %s cities, %s branches, %s deactivated",
             report.regions, report.cities, report.branches, report.deactivated)
    return report


# ------------------------------------------------------------------------------ reads
def _name(names: dict[str, Any], locale: str, fallback: str) -> str:
    return names.get(locale) or names.get(fallback) or next(iter(names.values()), "")


def regions(toolbox: Toolbox, locale: str) -> list[dict[str, Any]]:
    fallback = toolbox.settings.default_locale
    with toolbox.db.session() as session:
        rows = session.scalars(select(BtsRegion).where(BtsRegion.active.is_(True)).order_by(BtsRegion.code))
        return [{"code": r.code, "name": _name(r.names, locale, fallback)} for r in rows]


def cities(toolbox: Toolbox, region_code: str, locale: str) -> list[dict[str, Any]] | None:
    """The region's cities, or ``None`` when there is no such region."""
    fallback = toolbox.settings.default_locale
    with toolbox.db.session() as session:
        if session.get(BtsRegion, region_code) is None:
            return None
        rows = session.scalars(select(BtsCity).where(BtsCity.region_code == region_code,
                                                     BtsCity.active.is_(True)).order_by(BtsCity.code))
        return [{"code": c.code, "name": _name(c.names, locale, fallback), "has_branches": c.has_branches}
                for c in rows]


def branch_dict(b: BtsBranch, locale: str, fallback: str) -> dict[str, Any]:
    return {"code": b.code, "name": _name(b.names, locale, fallback),
            "address": _name(b.addresses, locale, fallback), "region_code": b.region_code,
            "city_code": b.city_code, "latitude": b.latitude, "longitude": b.longitude, "phone": b.phone,
            "working_hours": b.working_hours}


def branches(toolbox: Toolbox, city_code: str, locale: str) -> list[dict[str, Any]]:
    fallback = toolbox.settings.default_locale
    with toolbox.db.session() as session:
        rows = session.scalars(select(BtsBranch).where(BtsBranch.city_code == city_code,
                                                       BtsBranch.active.is_(True)).order_by(BtsBranch.code))
        return [branch_dict(b, locale, fallback) for b in rows]


def branch(toolbox: Toolbox, code: str, locale: str) -> dict[str, Any] | None:
    """An active branch by code, or ``None``."""
    with toolbox.db.session() as session:
        row = session.get(BtsBranch, code)
        if row is None or not row.active:
            return None
        return branch_dict(row, locale, toolbox.settings.default_locale)

"""The directory: synced into our tables, served in the customer's locale, still served when BTS is down."""

from __future__ import annotations

import pytest
from toolbox_bts.client import BtsUnavailable

from tests.fakes.bts import BRANCHES, CITIES, REGIONS
from toolbox_bts import directory


def test_sync_copies_regions_cities_and_branches(client):
    regions = client.get("/store/bts/regions?locale=ru").json()["items"]
    assert {r["code"]: r["name"] for r in regions} == {code: names["ru"] for code, names in REGIONS.items()}
    cities = client.get("/store/bts/regions/60/cities", headers={"Accept-Language": "uz-UZ,uz;q=0.9"}).json()
    assert [(c["code"], c["name"]) for c in cities["items"]] == [
        (code, names["uz"]) for code, (region, names, _) in CITIES.items() if region == "60"]
    assert {c["code"]: c["has_branches"] for c in cities["items"]} == {"6000": True, "6001": False}


def test_branches_of_a_city_carry_address_coordinates_phone_and_hours(client):
    items = client.get("/store/bts/branches", params={"city": "6000", "locale": "ru"}).json()["items"]
    assert [b["code"] for b in items] == sorted(c for c, b in BRANCHES.items() if b[1] == "6000")
    first = items[0]
    lat, lng = (float(x) for x in BRANCHES[first["code"]][3].split(","))
    assert (first["latitude"], first["longitude"]) == (lat, lng)
    assert first["name"] == BRANCHES[first["code"]][2]["ru"] and first["address"]
    assert first["phone"].startswith("+998") and first["working_hours"]["1"] == "09:00-18:00"
    assert first["working_hours"]["7"] is None


def test_a_city_without_an_office_is_not_asked_for_branches(bts, toolbox, provider):
    asked = bts.calls["/v1/directory/branches"]
    directory.sync(toolbox, provider.client)
    offices = sum(1 for _, _, office in CITIES.values() if office)
    locales = len([loc for loc in toolbox.settings.locales if loc in ("uz", "ru")])
    assert bts.calls["/v1/directory/branches"] - asked == offices * locales


def test_the_storefront_keeps_working_from_our_copy_when_bts_is_down(client, bts):
    bts.down = True
    assert len(client.get("/store/bts/regions").json()["items"]) == len(REGIONS)
    assert client.get("/store/bts/branches?city=7000").json()["items"][0]["code"] == "701"


def test_careless_input_gets_clear_4xx(client):
    assert client.get("/store/bts/regions/99/cities").status_code == 404
    assert client.get("/store/bts/regions/6%27%20or%201=1/cities").status_code == 422
    assert client.get("/store/bts/branches").status_code == 422
    assert client.get("/store/bts/branches?city=" + "9" * 50).status_code == 422
    unknown = client.get("/store/bts/regions?locale=xx")
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_locale"
    by_header = client.get("/store/bts/regions", headers={"Accept-Language": "uz-Latn;q=0.9, ru;q=0.5"})
    assert by_header.headers["content-language"] == "uz"
    assert client.get("/store/bts/branches?city=1234").json()["items"] == []


def test_a_failed_sync_keeps_our_copy_and_a_vanished_branch_is_deactivated(toolbox, provider, bts, client):
    bts.down = True
    with pytest.raises(BtsUnavailable):
        directory.sync(toolbox, provider.client)
    bts.down = False
    assert directory.branch(toolbox, "602", "ru") is not None
    from tests.fakes import bts as fake

    removed = fake.BRANCHES.pop("602")
    try:
        report = directory.sync(toolbox, provider.client)
    finally:
        fake.BRANCHES["602"] = removed
    assert report.deactivated == 1 and directory.branch(toolbox, "602", "ru") is None

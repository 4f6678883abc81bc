"""``toolbox doctor`` checks of the BTS plugin (messages never contain secrets)."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from toolbox_bts.client import BtsError
from toolbox_bts.models import BtsBranch, BtsCity, BtsRegion
from toolbox_core.api import DoctorCheck, KeyStoreUnavailable, Toolbox, tables_check


def doctor_checks(toolbox: Toolbox) -> list[DoctorCheck]:
    settings = toolbox.plugin_settings("bts")
    provider = toolbox.shipping_providers["bts"]
    checks: list[DoctorCheck] = []
    try:
        provider.client.login()
        checks.append(DoctorCheck("bts: login", True, f"logged in at {settings.api_url}"))
    except BtsError as exc:
        checks.append(DoctorCheck("bts: login", False, f"{settings.api_url}: {exc.message}; "
                                  "check TOOLBOX_BTS__LOGIN / TOOLBOX_BTS__PASSWORD / TOOLBOX_BTS__BASE_URL"))
    except (DBAPIError, KeyStoreUnavailable) as exc:  # the token goes to the database key store, not created before migrate
        checks.append(DoctorCheck("bts: login", True, "not checked: the key store cannot be read "
                                  f"({_kind(exc)}): run `toolbox migrate` if it has not run", warning=True))
    tables = tables_check(toolbox, "bts", BtsRegion, BtsCity, BtsBranch)
    checks.append(tables)
    if tables.ok:
        with toolbox.db.session() as session:
            branches = session.scalar(select(func.count()).select_from(BtsBranch).where(BtsBranch.active.is_(True)))
            sender = session.get(BtsCity, settings.sender_city_code)
        checks.append(DoctorCheck("bts: directory", bool(branches),
                                  f"{branches} branches in our copy" if branches else
                                  "no BTS branches yet: run `toolbox jobs run bts.sync_directory`"))
        checks.append(DoctorCheck("bts: sender city", sender is not None or not branches,
                                  f"sender city {settings.sender_city_code}" + ("" if sender or not branches else
                                                                                " is not in the BTS directory")))
    else:
        for name in ("bts: directory", "bts: sender city"):
            checks.append(DoctorCheck(name, True, "not checked: the BTS tables are missing (run toolbox migrate)",
                                      warning=True))
    # The catalog stores an unknown weight as 0 (read-only count; BTS then uses the default). A
    # warning: shipping still works, priced by the default weight.
    try:
        with toolbox.db.session() as session:
            unweighed = session.scalar(text("SELECT count(*) FROM product_variants WHERE weight_grams = 0")) or 0
    except DBAPIError:
        checks.append(DoctorCheck("bts: variant weights", True,
                                  "not checked: the catalog tables are missing (run toolbox migrate)", warning=True))
    else:
        checks.append(DoctorCheck("bts: variant weights", True,
                                  "every variant has a weight" if not unweighed else
                                  f"{unweighed} variants have no weight; BTS counts "
                                  f"{settings.default_weight_grams} g for each (set weight_grams)",
                                  warning=bool(unweighed)))
    # Optional: without it status updates come from polling only.
    checks.append(DoctorCheck("bts: webhook", True,
                              "webhook secret set" if settings.webhook_secret else
                              "no TOOLBOX_BTS__WEBHOOK_SECRET: status updates come from polling only "
                              "(optional; set it to get BTS's status webhook)",
                              warning=settings.webhook_secret is None))
    if not settings.test_mode and "apitest" in settings.api_url:
        checks.append(DoctorCheck("bts: base url", False, "test_mode is off but base_url is the test server"))
    return checks


def _kind(exc: Exception) -> str:
    """The error's kind: the database driver's (``UndefinedTable``) or the key store's."""
    return type(getattr(exc, "orig", None) or exc).__name__

"""``toolbox doctor`` checks of the Click plugin (messages never contain the secret)."""

from __future__ import annotations

from typing import Any

from toolbox_click.merchant_api import ClickApiError, ClickMerchantApi, ClickUnavailable
from toolbox_click.models import ClickInvoice, ClickTransaction
from toolbox_click.settings import ClickSettings
from toolbox_core.api import DoctorCheck, tables_check


def checks(toolbox: Any, settings: ClickSettings) -> list[DoctorCheck]:
    """Settings, the tables, the Merchant API user, and one authenticated call to the Merchant API."""
    found = [DoctorCheck("click.settings", True, f"service_id {settings.service_id}, merchant_id "
                                                 f"{settings.merchant_id}, secret key set"),
             tables_check(toolbox, "click", ClickTransaction, ClickInvoice, name="click.tables")]
    if settings.merchant_user_id is None:
        # Optional (payments work without it), but nothing can be reversed: warn, do not fail.
        found.append(DoctorCheck("click.merchant_api", True,
                                 "TOOLBOX_CLICK__MERCHANT_USER_ID is not set: payments work, but refunds "
                                 "(reversal, also of a payment whose order could not be kept) and invoices "
                                 "need the Merchant API; set it from the Click merchant cabinet", warning=True))
        return found
    api = ClickMerchantApi(settings.model_copy(update={"http_timeout_seconds": min(settings.http_timeout_seconds, 5)}))
    try:
        found.append(DoctorCheck("click.merchant_api", True, f"{settings.api_url}: {api.probe()}"))
    except ClickUnavailable as exc:
        found.append(DoctorCheck("click.merchant_api", False, f"{settings.api_url}: {exc}"))
    except ClickApiError as exc:
        found.append(DoctorCheck("click.merchant_api", False,
                                 f"{settings.api_url}: Click rejected the Auth header ({exc}); check "
                                 "TOOLBOX_CLICK__MERCHANT_USER_ID and TOOLBOX_CLICK__SECRET_KEY"))
    finally:
        api.close()
    return found

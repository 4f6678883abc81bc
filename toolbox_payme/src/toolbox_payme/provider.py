"""The ``payme`` payment provider: sends the payer to the Payme checkout."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from toolbox_core.api import PaymentAction, PaymentRequest, RefundResult
from toolbox_payme.settings import PaymeSettings

LANGUAGES = ("ru", "uz", "en")


def checkout_link(settings: PaymeSettings, *, number: str, amount: int, locale: str,
                  return_url: str | None) -> str:
    """``<checkout host>/<base64 of m=…;ac.<field>=…;a=…;l=…;c=…>`` (Payme's GET method).

    ``a`` is integer tiyin. ``;`` separates the parameters, so one inside the return URL is
    percent-encoded.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount must be a positive integer number of tiyin")
    lang = locale.split("-")[0].lower() if locale else "ru"
    parts = [f"m={settings.merchant_id}", f"ac.{settings.account_field}={number}", f"a={amount}",
             f"l={lang if lang in LANGUAGES else 'ru'}"]
    if return_url:
        parts.append(f"c={return_url.replace(';', '%3B')}")
    encoded = base64.b64encode(";".join(parts).encode()).decode()
    return f"{settings.checkout_host}/{encoded}"


@dataclass
class PaymeProvider:
    """Payme: an online payment; refunds start in the Payme merchant cabinet (then Payme calls
    CancelTransaction), so the kernel records a refund request instead of calling ``refund``."""

    settings: PaymeSettings
    id: str = "payme"
    name: str = "Payme"
    online: bool = True
    refund_capability: str = "gateway_initiated"
    #: ``initiate`` builds the checkout link from settings (no call to Payme): the kernel may
    #: call it on the event loop (``toolbox_core.api.is_local``).
    local: bool = True

    @property
    def payment_timeout_seconds(self) -> int | None:
        return self.settings.payment_timeout_seconds

    def initiate(self, request: PaymentRequest) -> PaymentAction:
        url = checkout_link(self.settings, number=request.order_number, amount=request.amount,
                            locale=request.locale, return_url=request.return_url)
        return PaymentAction(kind="redirect", url=url, data={"provider": "payme"})

    def refund(self, payment_id: str, amount: int) -> RefundResult:
        return RefundResult(succeeded=False, message="Payme refunds start in the Payme merchant cabinet")

"""The ``click`` payment provider: the redirect to Click's payment page, and refunds by reversal."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from toolbox_click.merchant_api import ClickMerchantApi
from toolbox_click.protocol import tiyin_to_som
from toolbox_click.refunds import refund_payment
from toolbox_click.settings import ClickSettings
from toolbox_core.api import PaymentAction, PaymentRequest, RefundResult


class ClickProvider:
    """Online payments through Click (``https://my.click.uz/services/pay``)."""

    id = "click"
    name = "Click"
    online = True
    #: Refunds go back through the Merchant API (``payment/reversal``).
    refund_capability = "api"
    #: ``initiate`` builds the pay URL from settings (no call to Click; a refund does call it, and
    #: is never made on the event loop): the kernel may call ``initiate`` on the loop.
    local = True

    def __init__(self, toolbox: Any, settings: ClickSettings, api: ClickMerchantApi) -> None:
        self.toolbox = toolbox
        self.settings = settings
        self.api = api
        self.payment_timeout_seconds = settings.payment_timeout_seconds

    def pay_url(self, *, amount: int, order_number: str, return_url: str | None) -> str:
        """Click's payment page for ``amount`` tiyin; ``transaction_param`` comes back as
        ``merchant_trans_id``."""
        params: dict[str, str] = {
            "service_id": str(self.settings.service_id),
            "merchant_id": str(self.settings.merchant_id),
            "amount": tiyin_to_som(amount),
            "transaction_param": order_number,
        }
        if self.settings.merchant_user_id is not None:
            params["merchant_user_id"] = str(self.settings.merchant_user_id)
        back = return_url or self.settings.return_url
        if back:
            params["return_url"] = back
        if self.settings.card_type:
            params["card_type"] = self.settings.card_type
        return f"{self.settings.pay_url}?{urlencode(params)}"

    def initiate(self, request: PaymentRequest) -> PaymentAction:
        url = self.pay_url(amount=request.amount, order_number=request.order_number,
                           return_url=request.return_url)
        return PaymentAction(kind="redirect", url=url, data={"order_number": request.order_number})

    def refund(self, payment_id: str, amount: int) -> RefundResult:
        return refund_payment(self.toolbox, self.api, payment_id, amount)

"""The kernel's own payment provider: cash (or card) on delivery."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolbox_core.providers import PaymentAction, PaymentRequest, RefundResult


@dataclass
class CashOnDeliveryProvider:
    """Pay the courier; nothing to do online. The payment is captured when the order is delivered."""

    id: str = "cash_on_delivery"
    name: str = "Cash on delivery"
    online: bool = False
    #: Nothing to ask anyone: ``initiate`` is called on the event loop (``providers.is_local``).
    local: bool = True
    #: The name shoppers see, per locale (``GET /store/carts/{id}/payment-options``).
    names: dict[str, str] = field(default_factory=lambda: {
        "ru": "Оплата при получении", "uz": "Qabul qilganda to'lash", "en": "Cash on delivery"})

    def initiate(self, request: PaymentRequest) -> PaymentAction:
        return PaymentAction(kind="none")

    def refund(self, payment_id: str, amount: int) -> RefundResult:
        # Cash is handed back by staff; the kernel only records it.
        return RefundResult(succeeded=True, gateway_transaction_id=f"cash-refund:{payment_id}")

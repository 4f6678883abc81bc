"""A test online payment provider: redirects to a fake gateway; tests play the gateway's callbacks."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolbox_core.providers import PaymentAction, PaymentRequest, RefundResult


@dataclass
class FakeOnlineProvider:
    id: str = "test_online"
    name: str = "Test gateway"
    online: bool = True
    fail_initiate: bool = False
    initiated: list[PaymentRequest] = field(default_factory=list)
    refunds: list[tuple[str, int]] = field(default_factory=list)

    def initiate(self, request: PaymentRequest) -> PaymentAction:
        if self.fail_initiate:
            raise ConnectionError("gateway down")
        self.initiated.append(request)
        return PaymentAction(kind="redirect", url=f"https://gateway.test/pay/{request.payment_id}")

    def refund(self, payment_id: str, amount: int) -> RefundResult:
        self.refunds.append((payment_id, amount))
        return RefundResult(succeeded=True, gateway_transaction_id=f"refund-{payment_id}")

"""The Click provider passes the kernel's payment contract suite (toolbox_core.testing.contracts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from toolbox_core.api import PaymentAction, PaymentRequest
from toolbox_core.testing.contracts import PaymentProviderContract


class TestClickProviderContract(PaymentProviderContract):
    @pytest.fixture
    def provider(self, store: Any) -> Any:
        return store.toolbox.payment_providers["click"]

    def amount_in_action(self, action: PaymentAction, request: PaymentRequest) -> int | None:
        """Click's payment page takes so'm with two decimals; in tiyin it must equal the request."""
        som = Decimal(parse_qs(urlsplit(action.url or "").query)["amount"][0])
        return int(som * 100)

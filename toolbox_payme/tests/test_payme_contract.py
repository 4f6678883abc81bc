"""The Payme provider passes the kernel's payment contract suite (toolbox_core.testing.contracts)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from toolbox_core.api import PaymentAction, PaymentRequest
from toolbox_core.testing.contracts import PaymentProviderContract


class TestPaymeProviderContract(PaymentProviderContract):
    @pytest.fixture
    def provider(self, store: Any) -> Any:
        return store.toolbox.payment_providers["payme"]

    def amount_in_action(self, action: PaymentAction, request: PaymentRequest) -> int | None:
        """The ``a=`` parameter of the base64 checkout link (Payme's GET method) is tiyin."""
        host = self.provider_settings_host
        params = dict(part.split("=", 1) for part in base64.b64decode(action.url[len(host) + 1:]).decode().split(";"))
        return int(params["a"])

    @pytest.fixture(autouse=True)
    def _host(self, store: Any) -> None:
        self.provider_settings_host = store.toolbox.plugin_settings("payme").checkout_host

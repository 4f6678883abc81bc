"""The BTS provider passes the kernel's shipping contract suite (toolbox_core.testing.contracts)."""

from __future__ import annotations

from typing import Any

import pytest

from toolbox_core.api import Address, CartView, LineView
from toolbox_core.testing.contracts import ShippingProviderContract


class TestBtsShippingContract(ShippingProviderContract):
    """The plugin on the fake BTS API, its directory synced (the BTS conftest's ``toolbox``)."""

    @pytest.fixture
    def provider(self, toolbox: Any) -> Any:
        return toolbox.shipping_providers["bts"]

    @pytest.fixture
    def cart(self) -> CartView:
        lines = (LineView("var_1", "SKU-1", "Tea", 2, 1_250_000, 500),)
        address = Address(region="Andijon", city="Andijon", street="Navoiy 10", name="Aziz",
                          phone="+998901234567", region_code="60", city_code="6000")
        return CartView(id="cart_contract_1", locale="ru", lines=lines, subtotal=2_500_000,
                        phone="+998901234567", address=address)

"""The Eskiz SMS channel and OTP sender pass the kernel's contract suites (toolbox_core.testing.contracts)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.eskiz import FakeEskiz
from toolbox_core.testing.contracts import NotificationChannelContract, OtpSenderContract


class TestEskizChannelContract(NotificationChannelContract):
    @pytest.fixture
    def provider(self, eskiz_toolbox: Any) -> Any:
        return eskiz_toolbox.notification_channels["eskiz"]

    @pytest.fixture(autouse=True)
    def _fake(self, fake_eskiz: FakeEskiz) -> None:
        self.fake = fake_eskiz

    @pytest.fixture
    def failing_provider(self, eskiz_toolbox: Any, fake_eskiz: FakeEskiz) -> Any:
        """Eskiz answering 503 to every send: the channel raises the kernel's RetryLater."""
        fake_eskiz.fail_next_sends(100, status=503)
        return eskiz_toolbox.notification_channels["eskiz"]

    def delivered(self, provider: Any, idempotency_key: str) -> int | None:
        """Every SMS of this test went to the contract's one phone: count them at the fake."""
        return len(self.fake.sent_to("998901234567"))


class TestEskizOtpSenderContract(OtpSenderContract):
    @pytest.fixture
    def provider(self, eskiz_toolbox: Any) -> Any:
        return eskiz_toolbox.otp_senders["eskiz"]

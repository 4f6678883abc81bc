"""The Merchant API client against the fake Click server over real HTTP: the Auth header as the
spec describes it, every call, and retries only where repeating is safe."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import date

import pytest
from click_testkit import MERCHANT_USER_ID, SECRET, click_settings
from toolbox_click.merchant_api import ClickApiError, ClickMerchantApi, ClickUnavailable
from toolbox_click.settings import ClickSettings

from tests.fakes.click import FakeClick


@pytest.fixture
def api(fake_click: FakeClick, serve_fake) -> ClickMerchantApi:
    client = ClickMerchantApi(ClickSettings(**click_settings(serve_fake(fake_click.app) + "/v2/merchant/")))
    yield client
    client.close()


def test_the_auth_header_is_user_sha1_of_timestamp_and_secret_and_the_timestamp() -> None:
    api = ClickMerchantApi(ClickSettings(**click_settings()), clock=lambda: 1_764_680_000.7)
    user, digest, timestamp = api.auth_header().split(":")
    assert (user, timestamp) == (str(MERCHANT_USER_ID), "1764680000")
    assert digest == hashlib.sha1(("1764680000" + SECRET).encode()).hexdigest()
    api.close()


def test_the_fake_accepts_our_auth_and_payment_status_reads(api: ClickMerchantApi, fake_click: FakeClick) -> None:
    fake_click.add_payment(777001, "1001", "26000.00")
    answer = api.payment_status(777001)
    assert (answer["error_code"], answer["payment_id"], answer["payment_status"]) == (0, 777001, 2)
    assert fake_click.auth_failures == 0
    by_mti = api.payment_status_by_mti("1001", date(2026, 12, 2))
    assert by_mti["payment_id"] == 777001


def test_a_wrong_secret_is_refused_by_click(fake_click: FakeClick, serve_fake) -> None:
    url = serve_fake(fake_click.app) + "/v2/merchant/"
    wrong = ClickMerchantApi(ClickSettings(**{**click_settings(url), "secret_key": "other"}))
    with pytest.raises(ClickApiError) as refused:
        wrong.payment_status(1)
    assert refused.value.status == 401
    stale = ClickMerchantApi(ClickSettings(**click_settings(url)), clock=lambda: time.time() - 3600)
    with pytest.raises(ClickApiError):
        stale.payment_status(1)
    assert fake_click.auth_failures == 2  # a 401 is not retried
    wrong.close()
    stale.close()


def test_click_errors_are_raised_with_their_code(api: ClickMerchantApi) -> None:
    with pytest.raises(ClickApiError) as unknown:
        api.payment_status(424242)
    assert unknown.value.error_code == -16


def test_status_reads_are_retried_after_a_5xx(api: ClickMerchantApi, fake_click: FakeClick) -> None:
    fake_click.add_payment(5, "1002", "100.00")
    fake_click.fail_next = [503, 502]
    assert api.payment_status(5)["payment_id"] == 5
    assert len(fake_click.requests) == 3
    fake_click.fail_next = [503, 503, 503]
    with pytest.raises(ClickUnavailable):
        api.payment_status(5)


def test_a_reversal_is_sent_once_even_when_click_fails(api: ClickMerchantApi, fake_click: FakeClick) -> None:
    fake_click.add_payment(9, "1003", "100.00")
    fake_click.fail_next = [503]
    with pytest.raises(ClickUnavailable):
        api.reversal(9)
    assert [m for m, _ in fake_click.requests] == ["DELETE"]
    assert not fake_click.payments[9].reversed
    assert api.reversal(9)["payment_id"] == 9
    assert fake_click.payments[9].reversed
    with pytest.raises(ClickApiError):
        api.reversal(9)  # Click refuses a second reversal


def test_an_invoice_carries_the_amount_in_som_written_from_tiyin(api: ClickMerchantApi,
                                                                  fake_click: FakeClick) -> None:
    answer = api.create_invoice(amount=2_600_050, phone="+998901234567", merchant_trans_id="1004")
    invoice = fake_click.invoices[answer["invoice_id"]]
    assert str(invoice["amount"]) == "26000.50"
    assert (invoice["phone_number"], invoice["merchant_trans_id"]) == ("998901234567", "1004")
    assert api.invoice_status(answer["invoice_id"])["invoice_status"] == 0
    fake_click.fail_next = [500]
    with pytest.raises(ClickUnavailable):
        api.create_invoice(amount=100, phone="+998901234567", merchant_trans_id="1005")
    assert len(fake_click.invoices) == 1


def test_unreachable_click_is_unavailable_after_the_timeout() -> None:
    api = ClickMerchantApi(ClickSettings(**click_settings("http://127.0.0.1:9/v2/merchant/",
                                                          http_timeout_seconds=0.5)))
    with pytest.raises(ClickUnavailable) as down:
        api.reversal(1)
    assert re.search("unreachable", str(down.value))
    api.close()


def test_without_a_merchant_user_id_the_merchant_api_says_what_to_set() -> None:
    api = ClickMerchantApi(ClickSettings(**{**click_settings(), "merchant_user_id": None}))
    with pytest.raises(ClickApiError, match="TOOLBOX_CLICK__MERCHANT_USER_ID"):
        api.payment_status(1)
    api.close()

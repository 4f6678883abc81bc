"""Code checks are limited per address too (one address guessing across many phones), and the
resend delay starts only once a code went out."""

from __future__ import annotations

from tests.customers.conftest import PHONE
from toolbox_core.config import Settings
from toolbox_core.customers import otp
from toolbox_core.doctor import abuse_checks


def phones(count: int) -> list[str]:
    return [f"+99890000{n:04d}" for n in range(count)]


def check(client, phone: str, code: str = "123456"):
    return client.post("/store/otp/verify", json={"phone": phone, "code": code})


def test_code_checks_from_one_address_are_limited_whatever_the_phone(make_client, sms):
    client = make_client(otp_verify_max_per_ip_per_hour=3, otp_max_failed_per_day=1000)
    answers = [check(client, phone) for phone in phones(4)]
    assert [r.status_code for r in answers] == [400, 400, 400, 429]
    limited = answers[-1]
    error = limited.json()["error"]
    assert error["code"] == "rate_limited" and set(error) == {"code", "message", "details", "request_id"}
    assert 0 < error["details"]["retry_after"] <= 3600
    assert limited.headers["Retry-After"] == str(error["details"]["retry_after"])
    # The limit holds before any code is looked at: a right code is refused as well.
    assert client.post("/store/otp/request", json={"phone": PHONE}).status_code == 200
    assert check(client, PHONE, sms.last_code(PHONE)).status_code == 429


def test_the_address_limit_of_checks_is_its_own_counter(make_client, sms):
    client = make_client(otp_verify_max_per_ip_per_hour=1, otp_max_per_ip_per_hour=5)
    assert [client.post("/store/otp/request", json={"phone": p}).status_code for p in phones(3)] == [200] * 3
    assert otp.verify_ip_window_key("2001:db8:1:2::1") == otp.verify_ip_window_key("2001:db8:1:2::ff")
    assert otp.verify_ip_window_key("203.0.113.5") != otp.ip_window_key("203.0.113.5")


def test_doctor_lists_the_address_limit_of_checks() -> None:
    [limits] = [c for c in abuse_checks(Settings(auth={"otp_verify_max_per_ip_per_hour": 42})) if c.name == "otp_limits"]
    assert "42 checks/h per address" in limits.message


def test_a_sender_that_sent_nothing_leaves_no_code_and_no_resend_delay(make_client, sms):
    client = make_client(otp_resend_seconds=60)
    original = sms.send_code
    sms.send_code = lambda *args: False  # e.g. the SMS gateway refused it; the answer stays the same
    refused = client.post("/store/otp/request", json={"phone": PHONE})
    assert refused.status_code == 200 and refused.json()["resend_in"] == 60
    store = client.app.state.toolbox.keystore
    assert store.get(otp.code_key(PHONE)) is None and store.get(otp.cooldown_key(PHONE)) is None
    sms.send_code = original
    assert client.post("/store/otp/request", json={"phone": PHONE}).status_code == 200, "no resend delay"
    assert client.post("/store/otp/request", json={"phone": PHONE}).status_code == 429, "after a sent code: delay"

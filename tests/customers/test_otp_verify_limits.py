"""Code checks are limited per address too (one address guessing across many phones), and the
resend delay starts only once a code went out."""

from __future__ import annotations

import pytest

from tests.customers.conftest import PHONE
from tests.keystore.test_keystore import race
from toolbox_core.config import Settings
from toolbox_core.customers import otp
from toolbox_core.doctor import abuse_checks
from toolbox_core.errors import ToolboxError


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


# ------------------------------------------------------- the daily cap under concurrency
CAP = 5
ADDRESS = "203.0.113.7"


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def capped(request, make_client, sms):
    """An app with a daily cap of ``CAP`` failed checks (and room for many checks per code), on
    the database key store (SQLite, PostgreSQL) and on Redis, with a code sent to ``PHONE``."""
    limits = {"otp_max_failed_per_day": CAP, "otp_max_attempts": 100, "otp_verify_max_per_ip_per_hour": 1000,
              "otp_resend_seconds": 0}
    if request.param == "redis":
        client = make_client(redis_url=request.getfixturevalue("redis_clean"), **limits)
    elif request.param == "postgresql":
        client = make_client(database_url=request.getfixturevalue("pg_url"), **limits)
    else:
        client = make_client(**limits)
    assert client.post("/store/otp/request", json={"phone": PHONE}).status_code == 200
    return client


def spy_checks(monkeypatch, toolbox) -> list[str]:
    """The codes that reached the key store's comparison, one entry per check."""
    checked: list[str] = []
    real = toolbox.keystore.verify_and_consume

    def counting(key: str, candidate: str, max_attempts: int):
        checked.append(candidate)
        return real(key, candidate, max_attempts)

    monkeypatch.setattr(toolbox.keystore, "verify_and_consume", counting)
    return checked


def verify_outcome(toolbox, code: str) -> str:
    try:
        otp.verify_code(toolbox, PHONE, code, ADDRESS)
    except ToolboxError as exc:
        return exc.code
    return "ok"


def test_concurrent_checks_at_the_daily_cap_never_exceed_it(capped, sms, monkeypatch):
    toolbox = capped.app.state.toolbox
    wrong = f"{(int(sms.last_code(PHONE)) + 1) % 1_000_000:06d}"
    assert [verify_outcome(toolbox, wrong) for _ in range(CAP - 2)] == ["invalid_code"] * (CAP - 2)
    checked = spy_checks(monkeypatch, toolbox)
    answers = race(16, lambda: verify_outcome(toolbox, wrong))
    assert len(checked) == 2, f"{len(checked)} checks ran with 2 left under the cap of {CAP}"
    assert sorted(answers) == ["invalid_code"] + ["too_many_attempts"] * 15
    # Locked: the right code is refused as well, and is not even looked at.
    assert verify_outcome(toolbox, sms.last_code(PHONE)) == "too_many_attempts" and len(checked) == 2


def test_a_check_that_matches_does_not_use_up_the_daily_cap(capped, sms):
    toolbox = capped.app.state.toolbox
    for _ in range(CAP - 1):
        assert verify_outcome(toolbox, "000000") == "invalid_code"
    for _ in range(3):  # right codes, while one failed check is left: each gives its place back
        assert verify_outcome(toolbox, sms.last_code(PHONE)) == "ok"
        assert capped.post("/store/otp/request", json={"phone": PHONE}).status_code == 200
    assert verify_outcome(toolbox, "000000") == "too_many_attempts", "the cap-th failed check locks"


def test_a_check_the_key_store_could_not_make_does_not_use_up_the_daily_cap(capped, sms, monkeypatch):
    toolbox = capped.app.state.toolbox
    for _ in range(CAP - 1):
        assert verify_outcome(toolbox, "000000") == "invalid_code"
    real = toolbox.keystore.verify_and_consume

    def unavailable(*_args, **_kwargs):
        raise ConnectionError("key store unavailable")

    monkeypatch.setattr(toolbox.keystore, "verify_and_consume", unavailable)
    for _ in range(3):  # no code compared: no failed check counted
        with pytest.raises(ConnectionError):
            otp.verify_code(toolbox, PHONE, "000000", ADDRESS)
    monkeypatch.setattr(toolbox.keystore, "verify_and_consume", real)
    assert verify_outcome(toolbox, sms.last_code(PHONE)) == "ok"


# ------------------------------------------------------------------ key-store calls per check
KEYSTORE_CALLS = ("set", "get", "ttl", "delete", "set_if_absent", "consume", "compare_and_consume",
                  "verify_and_consume", "hit", "hit_within", "window", "give_back", "renew")


def spy_calls(monkeypatch, toolbox) -> list[str]:
    """The key-store operations called, by name, in order."""
    calls: list[str] = []
    for name in KEYSTORE_CALLS:
        real = getattr(toolbox.keystore, name)

        def counted(*args, _name=name, _real=real, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(toolbox.keystore, name, counted)
    return calls


def test_a_check_is_three_key_store_calls_and_five_when_it_matches(capped, sms, monkeypatch):
    toolbox = capped.app.state.toolbox
    calls = spy_calls(monkeypatch, toolbox)
    assert verify_outcome(toolbox, "000000") == "invalid_code"
    assert calls == ["hit", "hit_within", "verify_and_consume"]
    calls.clear()
    assert verify_outcome(toolbox, sms.last_code(PHONE)) == "ok"
    assert calls == ["hit", "hit_within", "verify_and_consume", "give_back", "set"]
    calls.clear()
    for _ in range(CAP - 1):  # the cap-th failed check locks, with no key of its own
        verify_outcome(toolbox, "000000")
    assert calls[-3:] == ["hit", "hit_within", "verify_and_consume"]
    calls.clear()
    assert verify_outcome(toolbox, "000000") == "too_many_attempts" and calls == ["hit", "hit_within"]

"""Abuse limits of sign-in codes: who an address is behind proxies, store-wide caps, failed
checks per phone across codes, one answer for every bad code, and all of it in the key store
(shared by processes, under the Redis namespace)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from tests.customers.conftest import PHONE, build_toolbox, sign_in
from toolbox_core.app import create_app
from toolbox_core.clientip import address_bucket
from toolbox_core.config import Settings
from toolbox_core.customers import otp
from toolbox_core.texts import ERROR_MESSAGES

OTHER = "+998931112233"
PROXY = "10.0.0.2"


def error(response) -> dict[str, Any]:
    """The error body without the per-request id (to compare answers)."""
    body = response.json()["error"]
    return {key: value for key, value in body.items() if key != "request_id"}


def request(client, phone=PHONE, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post("/store/otp/request", json={"phone": phone}, headers=headers)


def check(client, code, phone=PHONE):
    return client.post("/store/otp/verify", json={"phone": phone, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def open_app(settings: Settings, sms) -> Iterator[Callable[..., TestClient]]:
    """``open_app(peer="10.0.0.2", redis_url=None, trusted_proxies=(), namespace=None, **auth)``:
    an app whose requests come from ``peer`` (the TCP peer the server sees)."""
    opened: list[tuple[TestClient, Any]] = []

    def make(*, peer: str = PROXY, redis_url: str | None = None, trusted_proxies: tuple[str, ...] = (),
             namespace: str | None = None, **auth: Any) -> TestClient:
        update: dict[str, Any] = {
            "redis_url": redis_url,
            "http": settings.http.model_copy(update={"trusted_proxies": list(trusted_proxies)}),
        }
        if namespace:
            update["jobs"] = settings.jobs.model_copy(update={"redis_namespace": namespace})
        toolbox = build_toolbox(settings.model_copy(update=update), sms, **auth)
        client = TestClient(create_app(toolbox=toolbox), client=(peer, 40000))
        client.__enter__()
        opened.append((client, toolbox))
        return client

    yield make
    for client, toolbox in opened:
        client.__exit__(None, None, None)
        toolbox.close()


def phones(count: int) -> list[str]:
    return [f"+99890000{n:04d}" for n in range(count)]


# ----------------------------------------------------------------------- client address
def test_without_trusted_proxies_x_forwarded_for_is_ignored(open_app, sms):
    client = open_app(otp_max_per_ip_per_hour=2)
    answers = [request(client, p, forwarded=f"203.0.113.{n}").status_code for n, p in enumerate(phones(3))]
    assert answers == [200, 200, 429]


def test_behind_a_trusted_proxy_each_shopper_has_their_own_address_limit(open_app, sms):
    client = open_app(trusted_proxies=("10.0.0.0/8",), otp_max_per_ip_per_hour=2)
    flooder = [request(client, p, forwarded="203.0.113.5").status_code for p in phones(3)]
    assert flooder == [200, 200, 429]
    # Everyone else behind the same proxy still signs in.
    assert request(client, OTHER, forwarded="203.0.113.6").status_code == 200


def test_a_forged_hop_does_not_change_the_address_counted(open_app, sms):
    """The proxy appends the address it saw; what the client wrote before it is ignored."""
    client = open_app(trusted_proxies=("10.0.0.0/8",), otp_max_per_ip_per_hour=2)
    answers = [request(client, p, forwarded=f"198.51.100.{n}, 203.0.113.5").status_code
               for n, p in enumerate(phones(3))]
    assert answers == [200, 200, 429]


def test_chained_trusted_proxies_are_skipped_to_the_client(open_app, sms):
    client = open_app(trusted_proxies=("10.0.0.0/8", "192.168.1.1"), otp_max_per_ip_per_hour=1)
    assert request(client, phones(2)[0], forwarded="203.0.113.5, 192.168.1.1, 10.1.2.3").status_code == 200
    assert request(client, phones(2)[1], forwarded="203.0.113.5, 10.9.9.9").status_code == 429
    assert request(client, OTHER, forwarded="203.0.113.7, 192.168.1.1").status_code == 200


def test_a_client_reaching_the_app_directly_cannot_pick_its_address(open_app, sms):
    client = open_app(peer="198.51.100.7", trusted_proxies=("10.0.0.0/8",), otp_max_per_ip_per_hour=2)
    answers = [request(client, p, forwarded=f"203.0.113.{n}").status_code for n, p in enumerate(phones(3))]
    assert answers == [200, 200, 429]


def test_ipv6_clients_are_counted_per_64(open_app, sms):
    client = open_app(trusted_proxies=("10.0.0.0/8",), otp_max_per_ip_per_hour=2)
    first, second, third = phones(3)
    assert request(client, first, forwarded="2001:db8:1:2::1").status_code == 200
    assert request(client, second, forwarded="2001:db8:1:2:ffff:ffff:ffff:9").status_code == 200
    assert request(client, third, forwarded="2001:db8:1:2:aaaa::77").status_code == 429
    assert request(client, OTHER, forwarded="2001:db8:1:3::1").status_code == 200


@pytest.mark.parametrize("address,bucket", [
    ("203.0.113.5", "203.0.113.5"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),
    ("[2001:db8::1]", "2001:db8::/64"),
    ("::ffff:203.0.113.5", "203.0.113.5"),
    ("testclient", "testclient"),
    ("", "unknown"),
])
def test_address_buckets(address, bucket):
    assert address_bucket(address) == bucket


# ------------------------------------------------------------------------ store-wide cap
def test_the_store_wide_cap_per_minute_answers_otp_busy(open_app, sms):
    client = open_app(trusted_proxies=("10.0.0.0/8",), otp_max_per_minute=3)
    many = phones(4)
    answers = [request(client, p, forwarded=f"203.0.113.{n}") for n, p in enumerate(many)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    busy = answers[-1]
    assert error(busy)["code"] == "otp_busy"
    assert 1 <= int(busy.headers["Retry-After"]) <= 60
    assert error(busy)["details"] == {"retry_after": int(busy.headers["Retry-After"])}
    assert len(sms.sent) == 3
    # The refused phone was not put on the resend cooldown: nothing was sent to it.
    assert client.app.state.toolbox.keystore.get(otp.cooldown_key(many[-1])) is None


# ---------------------------------------------------------------- failed checks per phone
def test_failed_checks_are_counted_across_codes_and_lock_the_phone(open_app, sms):
    client = open_app(otp_resend_seconds=0, otp_max_failed_per_day=7)
    request(client)
    first = sms.last_code(PHONE)
    assert [error(check(client, wrong(first)))["code"] for _ in range(5)] == ["invalid_code"] * 5
    request(client)  # a new code does not reset the count
    code = sms.last_code(PHONE)
    assert error(check(client, wrong(code)))["code"] == "invalid_code"
    locked = check(client, wrong(code))
    assert locked.status_code == 429 and error(locked)["code"] == "too_many_attempts"
    assert 23 * 3600 < int(locked.headers["Retry-After"]) <= 24 * 3600
    # Locked: even the right code and a new one are refused until the day's window ends.
    assert check(client, code).status_code == 429
    assert request(client).status_code == 429
    assert request(client, OTHER).status_code == 200


def test_the_lockout_is_the_same_for_a_customer_and_an_unknown_phone(open_app, sms):
    client = open_app(otp_resend_seconds=0, otp_max_failed_per_day=3)
    sign_in(client, sms, PHONE)
    answers = []
    for phone in (PHONE, OTHER):
        request(client, phone)
        replies = [check(client, "000000", phone) for _ in range(4)]
        answers.append([(r.status_code, error(r)["code"], error(r)["message"]) for r in replies])
    assert answers[0] == answers[1]
    assert [status for status, _, _ in answers[0]] == [400, 400, 429, 429]


def test_wrong_expired_used_and_never_sent_codes_get_one_answer(open_app, sms):
    client = open_app(otp_resend_seconds=0)
    store = client.app.state.toolbox.keystore
    phones_ = phones(4)
    for phone in phones_:
        request(client, phone)
    wrong_code = check(client, wrong(sms.last_code(phones_[0])), phones_[0])
    store.delete(otp.code_key(phones_[1]))  # the same as expired: no live code
    expired = check(client, sms.last_code(phones_[1]), phones_[1])
    assert check(client, sms.last_code(phones_[2]), phones_[2]).status_code == 200
    used = check(client, sms.last_code(phones_[2]), phones_[2])
    code = sms.last_code(phones_[3])
    for _ in range(5):
        check(client, wrong(code), phones_[3])
    dead = check(client, code, phones_[3])
    never_sent = check(client, "123456", OTHER)
    answers = [wrong_code, expired, used, dead, never_sent]
    assert {r.status_code for r in answers} == {400}
    assert all(error(r) == error(wrong_code) for r in answers)
    # The shopper reads it in the store's language (ru here); the English text is the kernel's.
    assert error(wrong_code) == {"code": "invalid_code", "details": None,
                                 "message": ERROR_MESSAGES["invalid_code"]["ru"][0]}
    assert otp.WRONG_CODE_MESSAGE == "the code is wrong or has expired; check it or request a new code"


# -------------------------------------------------------------- shared state, namespace
@pytest.mark.redis
def test_limits_hold_across_two_processes_on_one_redis(open_app, sms, redis_clean):
    options = {"redis_url": redis_clean, "trusted_proxies": ("10.0.0.0/8",), "otp_resend_seconds": 0,
               "otp_max_failed_per_day": 4, "otp_max_per_ip_per_hour": 2, "otp_max_per_minute": 3}
    one, two = open_app(**options), open_app(**options)
    assert one.app.state.toolbox is not two.app.state.toolbox
    # Failed checks made on either instance count together.
    assert request(one).status_code == 200
    code = sms.last_code(PHONE)
    assert [check(app, wrong(code)).status_code for app in (one, two, one, two)] == [400, 400, 400, 429]
    assert check(one, code).status_code == 429
    # The address limit and the store-wide cap are shared too.
    shoppers = phones(4)
    by_address = [request(app, p, forwarded="203.0.113.9").status_code
                  for app, p in zip((two, one, two), shoppers, strict=False)]
    assert by_address == [200, 200, 429]
    assert error(request(one, shoppers[3], forwarded="203.0.113.10"))["code"] == "otp_busy"


@pytest.mark.redis
def test_every_key_written_for_codes_and_limits_is_under_the_namespace(open_app, sms, redis_clean):
    client = open_app(redis_url=redis_clean, namespace="shopA", otp_max_per_ip_per_hour=3,
                      otp_max_failed_per_day=2)
    raw = redis.Redis.from_url(redis_clean, decode_responses=True)
    assert request(client).status_code == 200
    assert request(client).status_code == 429  # resend cooldown
    assert check(client, wrong(sms.last_code(PHONE))).status_code == 400
    assert check(client, "000000").status_code == 429  # locked
    assert request(client, OTHER).status_code == 200
    assert request(client, "+998941112233").status_code == 429  # address limit
    assert check(client, sms.last_code(OTHER), OTHER).status_code == 200
    keys = list(raw.scan_iter("*"))
    assert keys
    assert [key for key in keys if not key.startswith("shopA:")] == []
    assert f"shopA:{otp.failed_key(PHONE)}" in keys
    raw.close()

"""One-time codes: sent hashed, checked at most five times, consumed once, rate-limited."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from tests.customers.conftest import PHONE, sign_in, verify
from toolbox_core.customers import otp
from toolbox_core.keystore.models import KeystoreEntry

OTHER = "+998931112233"


def request(client, phone=PHONE, **body):
    return client.post("/store/otp/request", json={"phone": phone, **body})


def check(client, code, phone=PHONE):
    return client.post("/store/otp/verify", json={"phone": phone, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def error_code(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture(params=["database", "redis"])
def any_api(request, make_client):
    """The app on the database key store and on Redis."""
    if request.param == "redis":
        return make_client(redis_url=request.getfixturevalue("redis_clean"))
    return make_client()


def test_a_requested_code_verifies_once(any_api, sms):
    assert request(any_api, "90 123 45 67").json() == {"sent": True, "expires_in": 900, "resend_in": 60}
    code = sms.last_code(PHONE)
    first = check(any_api, code, "+998 90 123-45-67")
    assert first.status_code == 200
    assert first.json()["verification_token"].startswith("tbx_verify_")
    replay = check(any_api, code)
    assert replay.status_code == 400 and error_code(replay) == "invalid_code"


def test_the_sms_is_localized(make_client, sms):
    client = make_client(otp_resend_seconds=0)
    request(client)
    request(client, locale="uz")
    request(client, OTHER)
    client.post("/store/otp/request", json={"phone": "+998941112233"}, headers={"Accept-Language": "uz-UZ,ru;q=0.5"})
    ru, uz, default, header = sms.sent
    assert "Код для входа" in ru.text and ru.locale == "ru"
    assert "Kirish kodi" in uz.text and uz.locale == "uz"
    assert default.locale == "ru"
    assert header.locale == "uz"
    assert "15" in ru.text


def test_unknown_locale_is_refused(api, sms):
    response = request(api, locale="fr")
    assert response.status_code == 422
    assert sms.sent == []


def test_codes_are_six_random_digits(api, sms):
    codes = {otp.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 190


def test_only_a_keyed_hash_of_the_code_is_stored(api, sms):
    request(api)
    code = sms.last_code(PHONE)
    toolbox = api.app.state.toolbox
    stored = toolbox.keystore.get(otp.code_key(PHONE))
    assert stored is not None and code not in stored
    assert stored == otp.code_hash(toolbox, PHONE, code)
    assert stored != otp.code_hash(toolbox, OTHER, code)  # bound to the phone


@pytest.mark.parametrize("phone", ["", "12345", "+7 901 234 56 78", "+998 71 123 45 67", "ninety"])
def test_malformed_phone_is_refused_and_nothing_is_sent(api, sms, phone):
    response = request(api, phone)
    assert response.status_code == 422
    assert error_code(response) == "invalid_phone"
    assert sms.sent == []
    assert check(api, "123456", phone).status_code == 422


@pytest.mark.parametrize("body", [{}, {"phone": 998901234567}, {"phone": None}, {"phone": PHONE, "extra": 1}])
def test_malformed_request_body_is_refused(api, body):
    response = api.post("/store/otp/request", json=body)
    assert response.status_code == 422
    assert error_code(response) == "invalid_input"


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", " 123456", 123456, None])
def test_malformed_code_is_refused_without_using_an_attempt(api, sms, code):
    request(api)
    response = api.post("/store/otp/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 422
    assert check(api, sms.last_code(PHONE)).status_code == 200


def test_wrong_code_is_refused(any_api, sms):
    request(any_api)
    response = check(any_api, wrong(sms.last_code(PHONE)))
    assert response.status_code == 400
    assert error_code(response) == "invalid_code"
    assert check(any_api, sms.last_code(PHONE)).status_code == 200


def test_five_wrong_codes_kill_the_code(any_api, sms):
    request(any_api)
    code = sms.last_code(PHONE)
    answers = [error_code(check(any_api, wrong(code))) for _ in range(5)]
    assert answers == ["invalid_code"] * 5  # the fifth does not say it was the last
    assert any_api.app.state.toolbox.keystore.get(otp.code_key(PHONE)) is None
    assert error_code(check(any_api, code)) == "invalid_code"


def test_expired_code_is_refused(api, sms):
    request(api)
    with api.app.state.toolbox.db.transaction() as session:
        session.execute(update(KeystoreEntry).where(KeystoreEntry.key == otp.code_key(PHONE)).values(expires_at=0))
    response = check(api, sms.last_code(PHONE))
    assert response.status_code == 400 and error_code(response) == "invalid_code"


def test_code_of_another_phone_is_refused(make_client, sms):
    client = make_client()
    request(client)
    request(client, OTHER)
    assert error_code(check(client, sms.last_code(PHONE), OTHER)) in {"invalid_code"}


def test_a_new_request_replaces_the_old_code(make_client, sms):
    client = make_client(otp_resend_seconds=0)
    request(client)
    request(client)
    old, new = (s.code for s in sms.sent)
    if old != new:
        assert error_code(check(client, old)) == "invalid_code"
    assert check(client, new).status_code == 200


def test_resend_sooner_than_60_seconds_is_refused(any_api, sms):
    assert request(any_api).status_code == 200
    response = request(any_api)
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert len(sms.sent) == 1
    assert request(any_api, OTHER).status_code == 200


def test_flooding_one_phone_hits_the_hourly_limit(make_client, sms):
    client = make_client(otp_resend_seconds=0, otp_max_per_hour=3)
    assert [request(client).status_code for _ in range(5)] == [200, 200, 200, 429, 429]
    response = request(client)
    assert 3000 < int(response.headers["Retry-After"]) <= 3600
    assert len(sms.sent) == 3


def test_flooding_from_one_address_hits_the_address_limit(make_client, sms):
    client = make_client(otp_max_per_ip_per_hour=3)
    phones = [f"+99890000000{n}" for n in range(5)]
    assert [request(client, p).status_code for p in phones] == [200, 200, 200, 429, 429]
    assert int(request(client, OTHER).headers["Retry-After"]) > 0
    assert len(sms.sent) == 3


def test_brute_force_across_many_codes_gets_five_checks_per_code(make_client, sms):
    client = make_client(otp_resend_seconds=0, otp_max_per_hour=3, otp_max_failed_per_day=1000)
    store = client.app.state.toolbox.keystore
    checked = 0
    guess = 0
    while request(client).status_code == 200:
        code = sms.last_code(PHONE)
        while store.get(otp.code_key(PHONE)) is not None:
            guess += 1
            if f"{guess:06d}" == code:
                guess += 1
            assert error_code(check(client, f"{guess:06d}")) == "invalid_code"
            checked += 1
    assert len(sms.sent) == 3
    assert checked == 3 * 5


def test_wrong_codes_get_the_same_answer_whether_or_not_a_customer_exists(make_client, sms):
    client = make_client(otp_resend_seconds=0)
    sign_in(client, sms, PHONE)
    answers = []
    for phone in (PHONE, OTHER):
        sent = request(client, phone)
        answers.append((sent.status_code, sent.json(), check(client, "000000", phone).json()["error"]["code"]))
    assert answers[0] == answers[1]


def test_same_answer_shape_for_a_new_and_a_known_phone(make_client, sms):
    client = make_client()
    sign_in(client, sms, PHONE)
    client2 = make_client()
    bodies = []
    for phone in (PHONE, OTHER):
        client2.cookies.clear()
        sms.sent.clear()
        client2.app.state.toolbox.keystore.delete(otp.cooldown_key(phone))
        sent = request(client2, phone)
        verified = check(client2, sms.last_code(phone), phone)
        bodies.append((sent.status_code, sent.json(), verified.status_code, sorted(verified.json())))
    assert bodies[0] == bodies[1]


def test_log_sender_refuses_in_production_and_keeps_no_code(make_client, redis_clean, caplog):
    client = make_client(otp_sender="log", redis_url=redis_clean)  # Redis: not the embedded mode
    with caplog.at_level(logging.DEBUG):
        response = request(client)
    assert response.status_code == 503
    assert error_code(response) == "otp_sender_unavailable"
    assert "SMS plugin" in response.json()["error"]["message"]
    assert client.app.state.toolbox.keystore.get(otp.code_key(PHONE)) is None
    assert "Код" not in caplog.text
    assert request(client).status_code == 503  # not rate limited by the failed attempt


def test_log_sender_prints_the_sms_in_debug_mode(make_client, caplog):
    client = make_client(otp_sender="log", debug=True)
    with caplog.at_level(logging.WARNING, logger="toolbox.otp"):
        assert request(client).status_code == 200
    assert "Код для входа" in caplog.text


def test_unknown_sender_is_a_clear_503(make_client):
    response = request(make_client(otp_sender="eskiz"))
    assert response.status_code == 503
    assert "eskiz" in response.json()["error"]["message"]


def test_a_failing_sender_is_a_503_and_the_code_is_dropped(api, sms):
    sms.fail_with = ConnectionError("gateway down")
    response = request(api)
    assert response.status_code == 503
    assert error_code(response) == "otp_send_failed"
    assert api.app.state.toolbox.keystore.get(otp.code_key(PHONE)) is None
    sms.fail_with = None
    assert request(api).status_code == 200


@pytest.mark.parametrize("path,body", [
    ("/store/otp/request", {"phone": PHONE}),
    ("/store/otp/verify", {"phone": PHONE, "code": "123456"}),
    ("/store/customers/auto-register", {"verification_token": "tbx_verify_x"}),
])
def test_unreachable_redis_is_a_503_without_fallback(make_client, sms, path, body):
    client = make_client(redis_url="redis://127.0.0.1:1/0")
    response = client.post(path, json=body)
    assert response.status_code == 503
    assert error_code(response) == "service_unavailable"
    assert sms.sent == []


def test_verification_token_works_once(api, sms):
    token = verify(api, sms)
    first = api.post("/store/customers/sign-in", json={"verification_token": token})
    replay = api.post("/store/customers/sign-in", json={"verification_token": token})
    assert first.status_code == 200
    assert replay.status_code == 401 and error_code(replay) == "verification_required"


def test_the_code_is_sent_outside_any_database_transaction(api, sms):
    pool = api.app.state.toolbox.db.engine.pool
    held = []
    sms.on_send = lambda phone: held.append(pool.checkedout())
    assert request(api).status_code == 200
    assert held == [0]


def test_an_unreachable_database_key_store_is_a_503(tmp_path):
    from toolbox_core.db import Database
    from toolbox_core.keystore import KeyStoreUnavailable
    from toolbox_core.keystore.db_store import DatabaseKeyStore

    store = DatabaseKeyStore(Database(f"sqlite:///{tmp_path}/missing/folder/db.sqlite"))
    with pytest.raises(KeyStoreUnavailable) as info:
        store.set("k", "v", 60)
    assert info.value.status == 503

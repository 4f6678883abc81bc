"""Sign-in texts by the one locale rule: the SMS and the shopper-facing errors in ru and uz."""

from __future__ import annotations

from tests.customers.conftest import PHONE


def test_the_sms_follows_a_tolerant_body_locale_and_the_q_values(make_client, sms):
    client = make_client(otp_resend_seconds=0)
    assert client.post("/store/otp/request", json={"phone": PHONE, "locale": "uz-Latn"}).status_code == 200
    client.post("/store/otp/request", json={"phone": PHONE}, headers={"Accept-Language": "ru;q=0.3, uz-UZ;q=0.8"})
    client.post("/store/otp/request", json={"phone": PHONE}, headers={"Accept-Language": "uz;q=0, ru-RU"})
    assert [s.locale for s in sms.sent] == ["uz", "uz", "ru"]
    assert sms.sent[0].text.startswith("Kirish kodi")
    assert sms.sent[2].text.startswith("Код для входа")


def test_an_invalid_phone_is_told_in_the_shoppers_language_with_a_stable_code(api, sms):
    response = api.post("/store/otp/request", json={"phone": "12345"}, headers={"Accept-Language": "uz-UZ"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_phone"
    assert error["message"] == "O'zbekiston mobil raqamini kiriting: +998XXXXXXXXX"
    assert response.headers["content-language"] == "uz"
    default = api.post("/store/otp/request", json={"phone": "12345"})
    assert default.json()["error"]["message"] == "Введите узбекский номер мобильного телефона: +998XXXXXXXXX"


def test_code_errors_and_the_resend_limit_are_localized(api, sms):
    assert api.post("/store/otp/request", json={"phone": PHONE, "locale": "uz"}).status_code == 200
    again = api.post("/store/otp/request", json={"phone": PHONE, "locale": "uz"})
    assert again.status_code == 429
    wait = again.json()["error"]["details"]["retry_after"]
    assert again.json()["error"]["message"] == f"Urinishlar juda ko'p; {wait} soniyadan keyin qayta urinib ko'ring"

    code = sms.last_code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    bad = api.post("/store/otp/verify?locale=uz", json={"phone": PHONE, "code": wrong})
    assert bad.status_code == 400
    assert bad.json()["error"] | {"request_id": None} == {
        "code": "invalid_code", "message": "Kod noto'g'ri yoki eskirgan; tekshiring yoki yangisini so'rang", "details": None, "request_id": None}
    in_ru = api.post("/store/otp/verify", json={"phone": PHONE, "code": wrong}, headers={"Accept-Language": "ru-RU"})
    assert in_ru.json()["error"]["message"] == "Код неверный или устарел; проверьте его или запросите новый"


def test_a_profile_and_sign_in_accept_a_tolerant_locale(api, sms):
    from tests.customers.conftest import sign_in

    session = sign_in(api, sms, locale="uz-Latn")
    assert session["customer"]["locale"] == "uz"
    headers = {"Authorization": f"Bearer {session['token']}"}
    assert api.patch("/store/customers/me", json={"locale": "ru-RU"}, headers=headers).json()["locale"] == "ru"
    refused = api.patch("/store/customers/me", json={"locale": "fr"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_locale"


def test_the_kernel_has_an_english_sign_in_sms_for_stores_that_list_en(toolbox):
    from toolbox_core.customers.otp import otp_text

    assert otp_text(toolbox, "123456", 900, "en") == "Sign-in code: 123456. Do not share it with anyone. Valid for 15 min."

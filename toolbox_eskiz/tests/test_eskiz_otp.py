"""Sign-in codes by Eskiz: the code SMS reaches the phone, the answer never tells a failure apart."""

from __future__ import annotations

import re

import pytest

from toolbox_core.testing.apps import admin_key, store_client

PHONE = "+998901234567"


def request_code(client, phone: str = PHONE, locale: str = "uz"):
    return client.post("/store/otp/request", json={"phone": phone, "locale": locale})


def test_code_sms_at_eskiz_verifies_through_the_store_api(eskiz_toolbox, fake_eskiz):
    with store_client(eskiz_toolbox) as client:
        response = request_code(client, "90 123 45 67")
        assert response.status_code == 200, response.text
        [sms] = fake_eskiz.sent_to("998901234567")
        assert sms.text.startswith("Kirish kodi:")
        code = re.search(r"\b(\d{6})\b", sms.text).group(1)
        verified = client.post("/store/otp/verify", json={"phone": PHONE, "code": code})
        assert verified.status_code == 200 and verified.json()["verification_token"]
        [record] = client.get("/admin/eskiz/messages", headers=admin_key(eskiz_toolbox, "eskiz:read")).json()["items"]
    assert code not in record["text"] and "******" in record["text"]  # the code is never stored


def test_the_answer_is_the_same_when_eskiz_fails_and_the_failure_is_recorded(eskiz_toolbox, fake_eskiz):
    with store_client(eskiz_toolbox) as client:
        ok = request_code(client)
        fake_eskiz.fail_next_sends(1, 500)
        failed = request_code(client, "+998901234568")
        assert failed.status_code == ok.status_code == 200
        assert failed.json().keys() == ok.json().keys()
        rows = client.get("/admin/eskiz/messages", params={"status": "failed"},
                          headers=admin_key(eskiz_toolbox, "eskiz:read")).json()["items"]
    assert [r["phone"] for r in rows] == ["+998901234568"] and "HTTP 500" in rows[0]["last_error"]


@pytest.mark.parametrize("cap", ["otp_max_per_minute", "otp_max_per_phone_per_day"])
def test_pumping_caps_stop_code_sms_without_changing_the_answer(make_toolbox, eskiz_settings, fake_eskiz, cap):
    toolbox = make_toolbox(plugins=["eskiz"], plugin_settings={"eskiz": {**eskiz_settings, cap: 2}},
                           auth={"otp_sender": "eskiz", "otp_resend_seconds": 0, "otp_max_per_hour": 50})
    phones = [PHONE] * 3 if cap == "otp_max_per_phone_per_day" else ["+998901234561", "+998901234562", "+998901234563"]
    with store_client(toolbox) as client:
        answers = [request_code(client, phone).status_code for phone in phones]
        blocked = client.get("/admin/eskiz/messages", params={"status": "blocked"},
                             headers=admin_key(toolbox, "eskiz:read")).json()["items"]
    assert answers == [200, 200, 200]
    assert len(fake_eskiz.messages) == 2 and len(blocked) == 1


def test_a_code_sms_eskiz_refused_starts_no_resend_delay(eskiz_toolbox, fake_eskiz):
    with store_client(eskiz_toolbox) as client:
        fake_eskiz.fail_next_sends(1, 500)
        assert request_code(client).status_code == 200  # the same answer
        assert fake_eskiz.sent_to("998901234567") == []
        retried = request_code(client)  # at once: nothing went out, so no delay
        assert retried.status_code == 200, retried.text
        assert len(fake_eskiz.sent_to("998901234567")) == 1
        assert request_code(client).status_code == 429, "the delay starts with the code that went out"

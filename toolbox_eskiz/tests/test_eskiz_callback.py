"""Delivery reports: secret token, JSON or form, status mapping, repeats and unknown ids harmless."""

from __future__ import annotations

import pytest
from eskiz_helpers import CALLBACK_TOKEN
from toolbox_eskiz.callbacks import map_status
from toolbox_eskiz.runtime import service_of
from toolbox_eskiz.service import Outgoing

from toolbox_core.testing.apps import admin_key, store_client

URL = f"/eskiz/callback?token={CALLBACK_TOKEN}"


@pytest.fixture
def sent(eskiz_toolbox, fake_eskiz):
    """One SMS sent through the service; returns (record id, Eskiz request id)."""
    row_id = service_of(eskiz_toolbox).send(Outgoing(phone="+998901234567", text="Заказ 1 принят"))
    return row_id, fake_eskiz.messages[0].request_id


def record(client, toolbox):
    [row] = client.get("/admin/eskiz/messages", headers=admin_key(toolbox, "eskiz:read")).json()["items"]
    return row


@pytest.mark.parametrize(("word", "status"), [
    ("DELIVRD", "delivered"), ("delivered", "delivered"), ("REJECTD", "failed"), ("UNDELIV", "failed"),
    ("UNDELIVERABLE", "failed"), ("EXPIRED", "failed"), ("DELETED", "failed"), ("ACCEPTED", "sent"),
    ("waiting", "sent"), ("ENROUTE", "sent")])
def test_eskiz_status_words_map_to_three_outcomes(word, status):
    assert map_status(word) == status


def test_form_report_by_request_id_is_stored_and_a_repeat_or_late_pending_changes_nothing(eskiz_toolbox, sent):
    row_id, request_id = sent
    form = {"request_id": request_id, "message_id": "4385062", "status": "DELIVRD", "sms_count": "2"}
    with store_client(eskiz_toolbox) as client:
        assert client.post(URL, data=form).status_code == 200
        assert client.post(URL, data=form).status_code == 200
        assert client.post(URL, json={**form, "status": "ACCEPTED"}).status_code == 200
        row = record(client, eskiz_toolbox)
    assert (row["id"], row["status"], row["parts"], row["eskiz_message_id"]) == (row_id, "delivered", 2, "4385062")


def test_wrong_or_missing_token_is_refused(eskiz_toolbox, sent):
    with store_client(eskiz_toolbox) as client:
        assert client.post("/eskiz/callback?token=nope", json={"status": "DELIVRD"}).status_code == 403
        assert client.post("/eskiz/callback", json={"status": "DELIVRD"}).status_code == 403
        assert record(client, eskiz_toolbox)["status"] == "sent"


def test_unknown_message_is_answered_200_and_logged(eskiz_toolbox, caplog):
    with store_client(eskiz_toolbox) as client:
        response = client.post(URL, json={"user_sms_id": "sms_nope", "request_id": "x", "status": "DELIVRD"})
    assert response.status_code == 200
    assert "unknown message" in caplog.text


@pytest.mark.parametrize("body", ["not json {", "[1, 2]", '{"request_id": "x"}', "x" * 20_000])
def test_malformed_reports_get_a_clear_4xx(eskiz_toolbox, body):
    with store_client(eskiz_toolbox) as client:
        response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500 and "error" in response.json()


def test_admin_list_filters_and_refuses_bad_input(eskiz_toolbox, sent):
    with store_client(eskiz_toolbox) as client:
        headers = admin_key(eskiz_toolbox, "eskiz:read")
        assert client.get("/admin/eskiz/messages").status_code == 401
        assert client.get("/admin/eskiz/messages", params={"phone": "90 123 45 67"}, headers=headers).json()["total"] == 1
        assert client.get("/admin/eskiz/messages", params={"phone": "+998911111111"}, headers=headers).json()["total"] == 0
        assert client.get("/admin/eskiz/messages", params={"since": "2999-01-01T00:00:00"},
                          headers=headers).json()["total"] == 0
        for bad in ({"status": "lost"}, {"limit": "5000"}, {"phone": "12"}, {"since": "yesterday"}):
            response = client.get("/admin/eskiz/messages", params=bad, headers=headers)
            assert response.status_code == 422, (bad, response.text)


@pytest.mark.parametrize("count", ["²", "9" * 40, "-1", "2.5"])
def test_an_unreadable_sms_count_is_ignored_not_a_500(eskiz_toolbox, sent, count):
    _, request_id = sent
    form = {"request_id": request_id, "status": "DELIVRD", "sms_count": count}
    with store_client(eskiz_toolbox) as client:
        response = client.post(URL, data=form)
        assert response.status_code == 200, response.text
        row = record(client, eskiz_toolbox)
    assert (row["status"], row["parts"]) == ("delivered", None)

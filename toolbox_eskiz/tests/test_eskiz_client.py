"""The Eskiz client: token kept in the key store, refreshed and renewed once, typed errors."""

from __future__ import annotations

import threading
import time

import pytest
from toolbox_eskiz.client import EskizClient
from toolbox_eskiz.errors import EskizAuthError, EskizPermanentError, EskizTransientError
from toolbox_eskiz.settings import EskizSettings


@pytest.fixture
def client(eskiz_toolbox, eskiz_settings):
    c = EskizClient(EskizSettings(**eskiz_settings), eskiz_toolbox.keystore)
    yield c
    c.close()


def test_first_send_logs_in_and_keeps_the_token_in_the_key_store_not_in_memory(client, fake_eskiz, eskiz_toolbox):
    result = client.send("+998901234567", "Заказ 1 принят", user_sms_id="sms_1")
    assert result.status == "waiting" and result.request_id
    assert fake_eskiz.logins == 1
    assert fake_eskiz.messages[0].phone == "998901234567" and fake_eskiz.messages[0].user_sms_id == "sms_1"
    assert "token" in (eskiz_toolbox.keystore.get(client.token_key) or "")
    assert not any("eyJ" in str(v) for v in vars(client).values())  # no token held by the client

    second = EskizClient(client.settings, eskiz_toolbox.keystore)  # another process, same store
    second.send("+998901234567", "Заказ 2 принят")
    second.close()
    assert fake_eskiz.logins == 1


def test_expired_token_is_refreshed_once_and_the_request_repeated(client, fake_eskiz):
    client.send("+998901234567", "one")
    fake_eskiz.expire_tokens()
    client.send("+998901234567", "two")
    assert fake_eskiz.refreshes == 1 and fake_eskiz.logins == 1
    assert [m.text for m in fake_eskiz.messages] == ["one", "two"]


def test_refused_refresh_falls_back_to_a_new_login(client, fake_eskiz):
    client.send("+998901234567", "one")
    fake_eskiz.expire_tokens()
    fake_eskiz.refuse_refresh = True
    client.send("+998901234567", "two")
    assert fake_eskiz.logins == 2 and len(fake_eskiz.messages) == 2


def test_token_close_to_expiry_is_refreshed_before_use(eskiz_toolbox, eskiz_settings, fake_eskiz):
    fake_eskiz.token_lifetime = 3600  # less than refresh_before_seconds (3 days)
    client = EskizClient(EskizSettings(**eskiz_settings, refresh_before_seconds=7200), eskiz_toolbox.keystore)
    client.send("+998901234567", "one")
    client.send("+998901234567", "two")
    assert fake_eskiz.refreshes == 1
    client.close()


def test_concurrent_senders_share_one_refresh(eskiz_toolbox, eskiz_settings, fake_eskiz):
    settings = EskizSettings(**eskiz_settings)
    clients = [EskizClient(settings, eskiz_toolbox.keystore) for _ in range(8)]  # like 8 processes
    clients[0].send("+998901234567", "warm up")
    fake_eskiz.expire_tokens()
    start = threading.Barrier(len(clients))
    errors: list[Exception] = []

    def send(c: EskizClient, n: int) -> None:
        start.wait()
        try:
            c.send("+998901234567", f"message {n}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
    assert fake_eskiz.refreshes + fake_eskiz.logins - 1 == 1  # one renewal for all of them
    assert len(fake_eskiz.messages) == 9
    for c in clients:
        c.close()


def test_unapproved_text_is_a_permanent_error(client, fake_eskiz):
    fake_eskiz.approved = ["Заказ №{number} принят"]
    client.send("+998901234567", "Заказ №7 принят")
    with pytest.raises(EskizPermanentError, match=r"модерац|moderation"):
        client.send("+998901234567", "Купите слона")


def test_server_errors_and_timeouts_are_transient(client, fake_eskiz, eskiz_toolbox, eskiz_settings):
    fake_eskiz.fail_next_sends(1, 503)
    with pytest.raises(EskizTransientError) as raised:
        client.send("+998901234567", "one")
    assert raised.value.status == 503
    fake_eskiz.fail_next_sends(1, 429)
    with pytest.raises(EskizTransientError):
        client.send("+998901234567", "one")

    fake_eskiz.send_delay = 1.0
    slow = EskizClient(EskizSettings(**{**eskiz_settings, "timeout_seconds": 0.2}), eskiz_toolbox.keystore)
    started = time.monotonic()
    with pytest.raises(EskizTransientError, match="in time"):
        slow.send("+998901234567", "one")
    assert time.monotonic() - started < 1.0
    slow.close()


def test_wrong_credentials_are_a_clear_auth_error(eskiz_toolbox, eskiz_settings):
    client = EskizClient(EskizSettings(**{**eskiz_settings, "password": "wrong"}), eskiz_toolbox.keystore)
    with pytest.raises(EskizAuthError, match="API secret"):
        client.balance()
    client.close()


def test_batch_send_reads_the_status_array_and_balance_and_status_work(client, fake_eskiz):
    request_id, statuses = client.send_batch([("a", "+998901234567", "x"), ("b", "+998901234568", "y")])
    assert statuses == ["waiting", "waiting"]
    assert client.status(request_id)["user_sms_id"] == "a"
    assert client.balance() == fake_eskiz.balance

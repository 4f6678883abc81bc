"""The MoySklad client: gzip, limits shared by every process, waits when told, typed errors, one token."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from toolbox_moysklad.client import AuthFailed, MoySkladClient, MoySkladError, RateLimitExceeded
from toolbox_moysklad.settings import MoySkladSettings


def settings(url: str, **extra) -> MoySkladSettings:
    return MoySkladSettings(**({"token": "tok-initial", "base_url": url} | extra))


@pytest.fixture
def keystore(store):
    return store().keystore


def test_the_fake_refuses_requests_without_gzip_as_moysklad_does(fake_url):
    plain = httpx.get(f"{fake_url}/context/employee", headers={"Accept-Encoding": "identity",
                                                               "Authorization": "Bearer tok-initial"})
    assert plain.status_code == 415 and plain.content == b""


def test_every_request_names_gzip_and_the_documented_accept(fake, fake_url, keystore):
    with MoySkladClient(settings(fake_url), keystore) as client:
        assert client.get("/context/employee")["name"]
        assert client.http.headers["Accept-Encoding"] == "gzip"
        assert client.http.headers["Accept"] == "application/json;charset=utf-8"


def test_nothing_is_sent_while_moysklad_says_wait(fake, fake_url, store):
    fake.add_products(3)
    keystore = store(redis=True).keystore  # as in production: the pause is shared through Redis
    fake.force_429(1500)
    other = MoySkladClient(settings(fake_url), keystore)  # another worker, same credential
    with MoySkladClient(settings(fake_url), keystore) as client:
        started = time.time()
        results = []
        first = threading.Thread(target=lambda: results.append(client.get("/context/employee")))
        first.start()
        time.sleep(0.3)  # the 429 has arrived: the other worker must wait too
        results.append(other.get("/report/stock/all/current"))
        first.join(10)
    other.close()
    assert len(results) == 2
    assert fake.sent_while_told_to_wait == []
    told_at = fake.rejected_429[0][0]
    after = [t for t, _, _, _ in fake.log if t > told_at]
    assert after and min(after) - told_at >= 1.5
    assert time.time() - started >= 1.5


def test_the_rate_budget_and_weights_are_honoured_without_a_429(fake, fake_url, keystore):
    fake.add_products(1200)
    with MoySkladClient(settings(fake_url), keystore) as client:
        started = time.perf_counter()
        pages = list(client.pages("/report/stock/all", {"limit": 100}))
        elapsed = time.perf_counter() - started
    assert len(pages) == 12
    assert fake.rejected_429 == [], "the client stays inside 45 units per 3 s (a stock page weighs 5)"
    assert elapsed >= 3.0, "12 pages of weight 5 need two 3-second windows at least"


def test_at_most_four_requests_are_in_flight_per_credential(fake, fake_url, keystore):
    fake.rate_limited = False
    fake.latency = 0.2
    clients = [MoySkladClient(settings(fake_url), keystore) for _ in range(3)]  # three processes
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda n: clients[n % 3].get("/context/employee"), range(24)))
    for c in clients:
        c.close()
    assert fake.max_parallel_seen == 4


def test_a_parallel_limit_429_without_headers_backs_off_and_succeeds(fake, fake_url, keystore):
    fake.rate_limited = False
    fake.fail_next = []
    with MoySkladClient(settings(fake_url, max_in_flight=5), keystore) as client:
        fake.latency = 0.2
        # Six concurrent requests from a second, unmanaged client push ours over 5 in parallel.
        raw = httpx.Client(headers={"Accept-Encoding": "gzip", "Authorization": "Bearer tok-initial"})
        with ThreadPoolExecutor(max_workers=8) as pool:
            noisy = [pool.submit(raw.get, f"{fake_url}/context/employee") for _ in range(5)]
            time.sleep(0.05)
            mine = pool.submit(client.get, "/context/employee")
            assert mine.result(timeout=20)["name"]
            [f.result() for f in noisy]
        raw.close()


@pytest.mark.parametrize(("status", "kind"), [(400, MoySkladError), (403, AuthFailed), (404, MoySkladError)])
def test_a_4xx_is_never_retried_and_comes_back_typed(fake, fake_url, keystore, status, kind):
    fake.fail_next = [status]
    with MoySkladClient(settings(fake_url), keystore) as client, pytest.raises(kind) as caught:
        client.get("/context/employee")
    assert caught.value.status == status and caught.value.code == 1000 + status
    assert fake.requests_to("/context/employee") == 1


def test_a_persistent_429_gives_up_with_a_typed_error(fake, fake_url, keystore, monkeypatch):
    import toolbox_moysklad.client as module

    monkeypatch.setattr(module, "MAX_429_RETRIES", 1)
    with MoySkladClient(settings(fake_url), keystore) as client:
        fake.force_429(10)
        assert client.get("/context/employee")
        fake.fail_next = [429, 429]
        with pytest.raises(RateLimitExceeded) as caught:
            client.get("/context/employee")
    assert caught.value.code == 1073 or caught.value.status == 429


def test_login_and_password_get_one_token_for_all_parallel_workers(fake, fake_url, store):
    keystore = store(redis=True).keystore
    config = MoySkladSettings(login="admin@shop", password="secret", base_url=fake_url)
    workers = [MoySkladClient(config, keystore) for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda c: c.get("/context/employee"), workers))
    assert fake.tokens_issued == 1, "a new token revokes the others: it is obtained once"
    # Someone issued a new token elsewhere (ours is revoked): one re-issue, then it works again.
    httpx.post(f"{fake_url}/security/token", headers={"Accept-Encoding": "gzip"},
               auth=("admin@shop", "secret"))
    assert workers[0].get("/context/employee")
    assert fake.tokens_issued == 3
    for c in workers:
        c.close()


def test_urls_outside_the_configured_api_are_refused(fake_url, keystore):
    with MoySkladClient(settings(fake_url), keystore) as client, pytest.raises(ValueError):
        client.get("http://169.254.169.254/latest/meta-data")

"""Stock webhooks: answered at once, once per requestId, followed by a job; installed idempotently."""

from __future__ import annotations

import time

import httpx
import pytest
from moysklad_helpers import add_catalog, events, levels
from toolbox_moysklad.client import MoySkladClient
from toolbox_moysklad.sync import MoySkladSync
from toolbox_moysklad.webhooks import FOLLOW_JOB, install, last_webhooks

from toolbox_core.api import PermanentFailure
from toolbox_core.app import create_app


def full_sync(tb):
    runner = MoySkladSync(tb)
    try:
        return runner.run(full=True)
    finally:
        runner.close()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_notification_is_answered_fast_once_per_request_id_and_its_report_followed(store, fake, serve_fake,
                                                                                     database):
    tb = store(database=database)
    products = fake.add_products(5, stock=1)
    add_catalog(tb, [p.code for p in products])
    full_sync(tb)
    shop = serve_fake(create_app(toolbox=tb))
    fake.set_stock(products[2], stock=42)
    hook = f"{shop}/moysklad/webhook?token=hook-secret"
    # The report is held at the fake: a webhook that fetched it before answering would hang here.
    report = fake.hold("/report/stock/all/current")
    first = fake.notify(hook, request_id="5f0c0c1e-0000-4000-8000-000000000001")
    retry = fake.notify(hook, request_id="5f0c0c1e-0000-4000-8000-000000000001")  # MoySklad retries
    assert (first.status_code, retry.status_code) == (204, 204)
    # Answered at once, only a job enqueued (once); the app's own worker may already be waiting on the report.
    follows = [e["kwargs"] for e in events(tb, "_jobs.requested") if e["job"] == FOLLOW_JOB]
    assert follows == [{"request_id": "5f0c0c1e-0000-4000-8000-000000000001"}]
    assert len(last_webhooks(tb)) == 1
    assert last_webhooks(tb)[0]["processed_at"] is None
    report.set()
    tb.events.drain()  # the embedded worker runs the enqueued job
    deadline = time.time() + 10
    while levels(tb, [products[2].code])[products[2].code] != (42, 0) and time.time() < deadline:
        tb.events.drain()
        time.sleep(0.1)
    assert levels(tb, [products[2].code]) == {products[2].code: (42, 0)}
    assert last_webhooks(tb)[0]["processed_at"] is not None
    assert fake.requests_to("/report/stock/all/current") == 1, "followed once"


def test_a_notification_with_a_bad_token_or_body_is_refused(store, fake, serve_fake):
    tb = store()
    shop = serve_fake(create_app(toolbox=tb))
    bad_token = fake.notify(f"{shop}/moysklad/webhook?token=guess")
    assert bad_token.status_code == 403 and bad_token.json()["error"]["code"]
    no_id = httpx.post(f"{shop}/moysklad/webhook?token=hook-secret", json={"reportUrl": "x"})
    assert no_id.status_code == 422
    not_json = httpx.post(f"{shop}/moysklad/webhook?token=hook-secret&requestId=r1", content=b"{oops")
    assert not_json.status_code in (400, 422)
    huge = httpx.post(f"{shop}/moysklad/webhook?token=hook-secret&requestId=r2", content=b"x" * 20_000)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    assert last_webhooks(tb) == []


def test_a_report_url_outside_moysklad_is_never_followed(store, fake, serve_fake):
    from toolbox_moysklad.webhooks import follow, record

    tb = store()
    shop = serve_fake(create_app(toolbox=tb))
    refused = httpx.post(f"{shop}/moysklad/webhook?token=hook-secret&requestId=evil-0",
                         json={"reportUrl": "http://169.254.169.254/report/stock/all/current"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_report_url"
    record(tb, "evil-1", "http://169.254.169.254/report/stock/all/current")  # stored before an upgrade
    with pytest.raises(PermanentFailure, match="reportUrl"):
        follow(tb, "evil-1")
    assert fake.log == []


def test_webhooks_install_is_idempotent(store, fake, fake_url):
    tb = store(public_url="https://shop.example.uz")
    config = tb.plugin_settings("moysklad")
    with MoySkladClient(config, tb.keystore) as client:
        assert install(config, client) == "created"
        assert install(config, client) == "exists"
        fake.webhooks[0]["enabled"] = False
        assert install(config, client) == "enabled"
    assert len(fake.webhooks) == 1
    assert fake.webhooks[0]["url"] == "https://shop.example.uz/moysklad/webhook?token=hook-secret"
    assert fake.webhooks[0]["stockType"] == "stock" and fake.webhooks[0]["reportType"] == "all"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"null", b'{"reportUrl": 5}', b'{"reportUrl": ""}', b""])
def test_a_notification_that_is_not_an_object_with_a_report_url_is_a_422(store, serve_fake, body):
    tb = store()
    shop = serve_fake(create_app(toolbox=tb))
    answer = httpx.post(f"{shop}/moysklad/webhook?token=hook-secret&requestId=r3", content=body)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_notification"
    assert last_webhooks(tb) == []


def test_webhooks_are_refused_while_no_token_is_configured(store, serve_fake):
    tb = store(webhook_token=None)
    shop = serve_fake(create_app(toolbox=tb))
    answer = httpx.post(f"{shop}/moysklad/webhook?token=&requestId=r4", json={"reportUrl": "x"})
    assert answer.status_code == 403


def test_the_sync_follows_only_the_exact_short_stock_report_path(store, fake_url):
    from toolbox_core.api import InvalidInput

    tb = store()
    runner = MoySkladSync(tb)
    try:
        with pytest.raises(InvalidInput, match="reportUrl"):
            runner.run(report_url=f"{fake_url}/entity/x/report/stock/all/current")
    finally:
        runner.close()

"""The BTS client: tokens kept in the key store, refresh then re-login, the envelope as typed errors."""

from __future__ import annotations

import pytest
from toolbox_bts.client import (
    ACCESS_KEY,
    REFRESH_KEY,
    BtsAuthError,
    BtsClient,
    BtsUnavailable,
    BtsValidationError,
)
from toolbox_bts.settings import BtsSettings


def test_login_keeps_both_tokens_in_the_key_store_and_reuses_them(toolbox, provider, bts):
    provider.client.call("GET", "/v1/directory/regions")
    assert toolbox.keystore.get(ACCESS_KEY) in bts.access
    assert toolbox.keystore.get(REFRESH_KEY) in bts.refresh
    logins = bts.calls["/auth/login"]
    provider.client.call("GET", "/v1/directory/regions")
    assert bts.calls["/auth/login"] == logins  # the stored token is used, no new login


def test_a_rejected_access_token_is_refreshed_then_the_call_retried(toolbox, provider, bts):
    provider.client.call("GET", "/v1/directory/regions")
    logins = bts.calls["/auth/login"]
    bts.expire_access()
    data = provider.client.call("GET", "/v1/directory/regions")
    assert data["items"]
    assert bts.calls["/auth/refresh"] == 1 and bts.calls["/auth/login"] == logins


def test_a_refused_refresh_token_falls_back_to_a_full_login(toolbox, provider, bts):
    provider.client.call("GET", "/v1/directory/regions")
    logins = bts.calls["/auth/login"]
    bts.expire_access()
    bts.revoke_refresh()
    assert provider.client.call("GET", "/v1/directory/regions")["items"]
    assert bts.calls["/auth/login"] == logins + 1


def test_another_process_uses_the_same_tokens(toolbox, provider, bts, bts_settings):
    provider.client.call("GET", "/v1/directory/regions")
    other = BtsClient(BtsSettings(**bts_settings), toolbox.keystore)  # a second worker process
    logins = bts.calls["/auth/login"]
    other.call("GET", "/v1/directory/regions")
    assert bts.calls["/auth/login"] == logins
    other.close()


def test_validation_errors_are_typed_with_their_fields(provider):
    with pytest.raises(BtsValidationError) as err:
        provider.client.call("GET", "/v1/directory/branches", params={"regionCode": "60"})
    assert "cityCode" in err.value.errors


def test_wrong_password_is_an_auth_error_without_the_password(toolbox, bts, bts_settings):
    client = BtsClient(BtsSettings(**{**bts_settings, "password": "wrong-pass"}), toolbox.keystore)
    with pytest.raises(BtsAuthError) as err:
        client.login()
    assert "wrong-pass" not in str(err.value)
    client.close()


def test_bts_down_is_unavailable(provider, bts):
    bts.down = True
    with pytest.raises(BtsUnavailable):
        provider.client.call("GET", "/v1/directory/regions")


def test_test_server_is_the_default_and_production_needs_a_base_url():
    assert BtsSettings(login="a", password="b").api_url == "https://apitest.bts.uz:28345"
    with pytest.raises(ValueError):
        BtsSettings(login="a", password="b", test_mode=False)

"""Session cookies and tokens: Secure flags kept on deletion, no bearer token handed to a cookie
session, verification tokens stored under a key only the server knows."""

from __future__ import annotations

from tests.customers.conftest import PHONE, sign_in, verify
from toolbox_core.security import keyed_hash, token_hash


def test_refresh_by_cookie_sets_a_new_cookie_but_keeps_the_token_out_of_the_body(api, sms):
    sign_in(api, sms)
    response = api.post("/store/customers/refresh")
    assert response.status_code == 200, response.text
    assert response.json()["token"] is None
    assert "toolbox_session=tbx_sess_" in response.headers["set-cookie"]
    assert api.get("/store/customers/me").json()["phone"] == PHONE  # the new cookie works


def test_refresh_by_cookie_returns_the_token_when_asked_and_by_bearer_always(api, sms):
    sign_in(api, sms)
    asked = api.post("/store/customers/refresh?include_token=true").json()
    assert asked["token"].startswith("tbx_sess_")
    api.cookies.clear()
    by_bearer = api.post("/store/customers/refresh", headers={"Authorization": f"Bearer {asked['token']}"})
    assert by_bearer.json()["token"].startswith("tbx_sess_")


def test_sign_out_deletes_the_cookie_with_the_flags_it_was_set_with(make_client, sms):
    client = make_client(session_cookie_secure=True, session_cookie_samesite="strict")
    session = sign_in(client, sms)
    response = client.post("/store/customers/sign-out", headers={"Authorization": f"Bearer {session['token']}"})
    assert response.status_code == 204
    deletion = response.headers["set-cookie"].lower()
    assert "toolbox_session=" in deletion and "max-age=0" in deletion
    for flag in ("secure", "httponly", "samesite=strict", "path=/"):
        assert flag in deletion, flag


def test_verification_tokens_are_stored_under_a_keyed_hash(api, sms):
    token = verify(api, sms)
    toolbox = api.app.state.toolbox
    secret = toolbox.settings.auth.secret_key.get_secret_value()
    assert toolbox.keystore.get(f"otp:verified:{keyed_hash(secret, token)}") == PHONE
    # The plain SHA-256 of the token (computable by anyone who sees the store) is not a key.
    assert toolbox.keystore.get(f"otp:verified:{token_hash(token)}") is None

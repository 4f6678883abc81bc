"""customers domain: the phone is the identity; sign-in is by one-time code.

Flow (store API)::

    POST /store/otp/request {phone, locale?}          -> {sent, expires_in, resend_in}    (SMS)
    POST /store/otp/verify  {phone, code}             -> {verified, verification_token, expires_in}
    POST /store/customers/sign-in {verification_token}                     -> session
    POST /store/customers/auto-register {verification_token, name?, locale?, cart_id?} -> session
    POST /store/customers/refresh | /store/customers/sign-out
    GET/PATCH /store/customers/me, CRUD /store/customers/me/addresses

A session is ``{token, expires_at, customer, created, cart_linked}`` plus an httpOnly cookie;
send the token as ``Authorization: Bearer`` or rely on the cookie. Codes, verification flags
and rate limits live in the key store (``toolbox.keystore``), never in process memory.
"""

"""Basic auth of Payme's calls and the kassa key that ChangePassword replaces.

The key in use is ``test_key`` in test mode (never the production key there) and ``key``
otherwise. A key set by ChangePassword is stored in the database table ``payme_credentials``
and wins over the settings, so every API process checks the same key; nothing is cached in
process memory or written to a file.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from toolbox_core.api import Toolbox
from toolbox_payme.models import PaymeCredential
from toolbox_payme.settings import PaymeSettings

#: The stored key (bind ``b_cred_name`` to :attr:`Credentials.name`): a core statement built once.
_STORED = select(PaymeCredential.__table__.c.value).where(PaymeCredential.__table__.c.name == bindparam("b_cred_name"))
#: The same as a scalar expression, for a callback that reads it within its own one statement.
STORED_KEY = _STORED.scalar_subquery()
_READ = object()


class Credentials:
    def __init__(self, toolbox: Toolbox, settings: PaymeSettings) -> None:
        self.toolbox = toolbox
        self.settings = settings

    @property
    def name(self) -> str:
        """Which key is in use: ``test_key`` in test mode, ``key`` otherwise."""
        return "test_key" if self.settings.test_mode else "key"

    def current(self, session: Session | Connection | None = None) -> str | None:
        """The key in use, read in ``session`` (the caller's transaction or connection) or a
        session of its own."""
        if session is None:
            with self.toolbox.db.session() as own:
                return self.current(own)
        connection = session.connection() if isinstance(session, Session) else session
        stored = connection.execute(_STORED, {"b_cred_name": self.name}).scalar()
        return stored or self.configured()

    def configured(self) -> str | None:
        """The key for this mode from the settings (``None`` when unset), before any ChangePassword."""
        configured = self.settings.test_key if self.settings.test_mode else self.settings.key
        return configured.get_secret_value() if configured is not None else None

    def verify(self, authorization: str | None, session: Session | Connection | None = None, *,
               stored: str | object | None = _READ) -> bool:
        """``Authorization: Basic base64(login:key)``; login and key compared in constant time.

        ``session``: read the stored key in the caller's transaction (a callback's own) or on its
        connection;
        ``stored``: the stored key (or ``None``) already read with the callback's own statement
        (:data:`STORED_KEY`), so nothing is read here."""
        if not authorization or len(authorization) > 1024:
            return False
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        login, sep, password = decoded.partition(":")
        if not sep:
            return False
        key = (stored or self.configured()) if stored is not _READ else self.current(session)
        if not key:  # no key for this mode (or an empty one): nobody gets in
            return False
        login_ok = hmac.compare_digest(login.encode(), self.settings.login.encode())
        key_ok = hmac.compare_digest(password.encode(), key.encode())
        return login_ok and key_ok

    def change(self, new_key: str, session: Session) -> bool:
        """Store ``new_key`` for the key in use, in the caller's transaction; ``False`` when it
        equals the current one."""
        row = session.get(PaymeCredential, self.name, with_for_update=True)
        current = (row.value if row is not None else None) or self.configured()
        if current is not None and hmac.compare_digest(current.encode(), new_key.encode()):
            return False
        if row is None:
            session.add(PaymeCredential(name=self.name, value=new_key, changes=1))
        else:
            row.value, row.changes = new_key, row.changes + 1
        return True

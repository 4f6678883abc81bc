"""Sending one SMS with its record: claim the row, call Eskiz outside any transaction, record.

The row is the idempotency guard: a second attempt with the same key finds the row and sends
nothing once Eskiz has taken the message (``sent``/``delivered``) or refused it for good
(``failed``). A row left ``sending`` by a worker that died is taken over when its claim expires.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from toolbox_core.api import PermanentFailure, RetryLater, Toolbox, new_id, utcnow
from toolbox_eskiz.client import EskizClient
from toolbox_eskiz.errors import EskizPermanentError, EskizTransientError
from toolbox_eskiz.models import BLOCKED, DELIVERED, FAILED, QUEUED, SENDING, SENT, EskizMessage
from toolbox_eskiz.settings import EskizSettings

log = logging.getLogger("toolbox.eskiz")

#: How long a worker owns a row it is sending (longer than the HTTP timeout).
CLAIM_SECONDS = 90
FINAL_OR_TAKEN = (SENT, DELIVERED, FAILED, BLOCKED)

#: Claims: a first attempt, a retry after a known failure, a takeover after a worker died.
NEW, RETRY, UNCERTAIN = "new", "retry", "uncertain"

#: Texts a test account may send, per locale.
TEST_TEXTS = {"ru": "Это тест от Eskiz", "uz": "Bu Eskiz dan test", "en": "This is test from Eskiz"}


@dataclass(frozen=True)
class Outgoing:
    """One SMS to send. ``shown_text`` is what the record keeps (a code masked) if not ``text``."""

    phone: str
    text: str
    template: str | None = None
    locale: str = "ru"
    idempotency_key: str | None = None
    shown_text: str | None = None


class SmsService:
    """Sends SMS through Eskiz and keeps their records (``eskiz_messages``)."""

    def __init__(self, toolbox: Toolbox, settings: EskizSettings, client: EskizClient) -> None:
        self.toolbox = toolbox
        self.settings = settings
        self.client = client

    def wire_text(self, sms: Outgoing) -> str:
        """The text that goes to Eskiz: ours, or the fixed test text in test mode."""
        if self.settings.test_mode:
            return TEST_TEXTS.get(sms.locale, TEST_TEXTS["ru"])
        return sms.text

    def send(self, sms: Outgoing, *, retried: bool = True) -> str:
        """Send ``sms`` once (per idempotency key); returns the record id.

        Raises ``RetryLater`` on transient Eskiz errors and ``PermanentFailure`` on permanent
        ones, so the job calling it is retried or parked accordingly. With ``retried=False``
        (nothing will try again, as for sign-in codes) a transient error also ends the row as
        ``failed``.
        """
        row_id, claim = self._claim(sms)
        if claim is None:
            return row_id
        if claim == UNCERTAIN and self._already_at_eskiz(row_id):
            return row_id
        try:
            result = self.client.send(sms.phone, self.wire_text(sms), user_sms_id=row_id,
                                      callback_url=self.settings.callback_url())
        except EskizPermanentError as exc:
            self._finish(row_id, status=FAILED, last_error=exc.message)
            raise PermanentFailure(exc.message) from exc
        except EskizTransientError as exc:
            self._finish(row_id, status=QUEUED if retried else FAILED, last_error=exc.message)
            raise RetryLater(exc.message, after=exc.retry_after) from exc
        except BaseException as exc:
            self._finish(row_id, status=QUEUED, last_error=type(exc).__name__)
            raise
        self._finish(row_id, status=SENT, request_id=result.request_id, gateway_status=result.status)
        return row_id

    def record_blocked(self, sms: Outgoing, reason: str) -> str:
        """Keep a row for an SMS an anti-pumping cap stopped (visible to operators)."""
        row_id = new_id("sms")
        with self.toolbox.db.transaction() as session:
            session.add(EskizMessage(id=row_id, phone=sms.phone, template=sms.template, locale=sms.locale,
                                     text=sms.shown_text or sms.text, status=BLOCKED, attempts=0,
                                     last_error=reason, status_at=utcnow()))
        return row_id

    # ------------------------------------------------------------------ rows
    def _already_at_eskiz(self, row_id: str) -> bool:
        """After a worker died mid-send: did Eskiz get the message? Looked up by ``user_sms_id``."""
        with self.toolbox.db.session() as session:
            created = session.scalar(select(EskizMessage.created_at).where(EskizMessage.id == row_id))
        try:
            found = self.client.find_by_user_sms_id(row_id, since=created or utcnow())
        except EskizTransientError as exc:
            self._finish(row_id, status=QUEUED, last_error=f"cannot check an interrupted send: {exc.message}")
            raise RetryLater(exc.message, after=exc.retry_after) from exc
        if found is None:
            return False
        log.info("interrupted send %s had reached Eskiz; not sending it again", row_id)
        self._finish(row_id, status=SENT, request_id=found.request_id, gateway_status=found.status)
        return True

    def _claim(self, sms: Outgoing) -> tuple[str, str | None]:
        """The row for ``sms`` and this attempt's claim: ``None`` (another owns it or it is
        done), ``NEW``/``RETRY`` (send), ``UNCERTAIN`` (a worker died mid-send: check first).

        A row another worker is sending right now raises ``RetryLater`` until its claim ends.
        """
        now = utcnow()
        until = now + timedelta(seconds=CLAIM_SECONDS)
        row_id = new_id("sms")  # insert first: a new key (the usual case) costs one statement
        try:
            with self.toolbox.db.transaction() as session:
                session.add(EskizMessage(
                    id=row_id, idempotency_key=sms.idempotency_key, phone=sms.phone, template=sms.template,
                    locale=sms.locale, text=sms.shown_text or self.wire_text(sms), status=SENDING, attempts=1,
                    claimed_until=until))
        except IntegrityError:  # the key has a row already: an earlier or concurrent attempt
            existing = self._by_key(sms.idempotency_key or "")
            if existing is None:
                raise
            return existing, self._take(existing, now, until)
        return row_id, NEW

    def _by_key(self, key: str) -> str | None:
        with self.toolbox.db.session() as session:
            return session.scalar(select(EskizMessage.id).where(EskizMessage.idempotency_key == key))

    def _take(self, row_id: str, now: datetime, until: datetime) -> str | None:
        """Claim a queued row, or a sending one whose worker's claim expired."""
        with self.toolbox.db.transaction() as session:
            row = session.execute(select(EskizMessage.status, EskizMessage.claimed_until)
                                  .where(EskizMessage.id == row_id).with_for_update()).one()
            if row.status in FINAL_OR_TAKEN:
                return None
            claimed_until = _aware(row.claimed_until)
            if row.status == SENDING and claimed_until is not None and claimed_until > now:
                wait = (claimed_until - now).total_seconds()
                raise RetryLater(f"SMS {row_id} is being sent by another worker", after=max(1.0, wait))
            session.execute(
                update(EskizMessage).where(EskizMessage.id == row_id)
                .values(status=SENDING, claimed_until=until, attempts=EskizMessage.attempts + 1, updated_at=now),
                execution_options={"synchronize_session": False})
        return UNCERTAIN if row.status == SENDING else RETRY

    def _finish(self, row_id: str, *, status: str, **values: Any) -> None:
        now = utcnow()
        with self.toolbox.db.transaction() as session:
            session.execute(
                update(EskizMessage).where(EskizMessage.id == row_id)
                .values(status=status, claimed_until=None, status_at=now, updated_at=now, **values),
                execution_options={"synchronize_session": False})


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they are UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment

"""The Merchant API methods Payme calls, as a state machine over ``payme_transactions``.

Every call (its Basic auth included) runs in ONE database transaction that locks the Payme
transaction row, then the kernel's payment and order rows, so two identical calls arriving at
once give one transaction and identical answers. Replies are built from the stored row: a
repeated call gets the same ``create_time`` / ``perform_time`` / ``cancel_time``.

The three calls of every payment take the kernel's short path (``PaymentService.read_for_report``):
CheckPerformTransaction is ONE read (the stored key, the order, its payment and lines) on an
autocommit connection; CreateTransaction and PerformTransaction are BEGIN, one locking read (key,
our row, order, payment, the kernel's idempotency row), one write (our row and every kernel
change, stock included: ``authorize_in_session`` / ``capture_in_session`` with ``state=`` and
``also=``), COMMIT. Each of the three parses its parameters once; what it cannot answer from its
one read is answered without reading again what was read: bad parameters, an unknown order or
transaction are refused once the auth is verified (the key read alone); a CreateTransaction
whose row must be expired, or whose Payme id names no order we sell, is answered from our row
locked first (its lock comes before the payment's and the order's everywhere). The other methods
take the general path: one transaction, auth first.

States: 1 created (the order is reserved and awaiting payment), 2 performed (paid), -1 cancelled
before perform (the order is cancelled, its stock released), -2 cancelled after perform (the
money was returned, the kernel records the refund). A state-1 transaction older than 12 h,
counted from Payme's own ``time``, is cancelled with reason 4 and answered with -31008.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from toolbox_core.api import (
    Conflict,
    GatewayQuery,
    GatewayState,
    InvalidInput,
    NotFound,
    OrderView,
    PaymentService,
    Toolbox,
    ToolboxError,
    new_id,
    order_view_in_session,
)
from toolbox_payme import errors as e
from toolbox_payme.credentials import STORED_KEY, Credentials
from toolbox_payme.models import (
    CANCELED,
    CANCELED_AFTER_PERFORM,
    CREATED,
    PERFORMED,
    PaymeTransaction,
)
from toolbox_payme.receipt import receipt_detail
from toolbox_payme.settings import PaymeSettings

log = logging.getLogger("toolbox.payme")

PROVIDER_ID = "payme"
#: A created transaction is cancelled 12 h after its creation in Payme (``params.time``).
TIMEOUT_MS = 43_200_000
#: Cancel reasons of the protocol.
REASONS = frozenset({1, 2, 3, 4, 5, 10})
REASON_TIMEOUT = 4
#: Bounds on what Payme may send. A Payme id (its ID type) is 24 hex characters; we take any
#: visible ASCII up to 64 (the column), so a change of Payme's format is not refused, and answer
#: anything else (empty, spaces, control or non-ASCII characters, longer) -32600.
MAX_ID_LENGTH = 64
_PAYME_ID = re.compile(rf"[!-~]{{1,{MAX_ID_LENGTH}}}", re.ASCII)
#: Payme's Timestamp type: "positive 13-digit integer, ms since 1970-01-01 UTC" (2001-09-09 to
#: 2286-11-20). CreateTransaction's ``time`` outside it is -32600.
#:
#: A 13-digit ``time`` ahead of our clock is NOT refused: the protocol names no error for it
#: (CreateTransaction's are -31001, -31008, -31050..-31099; -32600 is a missing field or a wrong
#: type), our clock may lag Payme's, and a margin of our choosing could turn away real payments.
#: Only Payme (its Basic auth) can send one. Such a transaction expires 12 h after that ``time``,
#: as the protocol counts it, so the order stays held for Payme until then unless Payme cancels
#: it (CancelTransaction) or staff cancel the order (a later PerformTransaction is then -31008).
PAYME_TIME_MIN, PAYME_TIME_MAX = 10**12, 10**13 - 1
MAX_STATEMENT_ROWS = 10_000
MAX_JSON_FIELD_BYTES = 8 * 1024
MAX_AMOUNT = 10**15


def now_ms() -> int:
    """Now, in Unix milliseconds (13 digits)."""
    return time.time_ns() // 1_000_000


# A callback reads and writes its ``payme_transactions`` row with core statements built once
# (no ORM identity map or unit of work on the hot path); the row is a plain namespace.
_TABLE = PaymeTransaction.__table__
_SELECT = select(_TABLE).where(_TABLE.c.payme_id == bindparam("b_payme_id"))
_LOCK = _SELECT.with_for_update()
_INSERT = insert(_TABLE)
_UPDATE = update(_TABLE).where(_TABLE.c.id == bindparam("b_id"))


#: Our row as CreateTransaction writes it (in the kernel's one statement, ``also=``).
_INSERT_ROW = insert(_TABLE).values({key: bindparam(f"b_{key}", type_=_TABLE.c[key].type) for key in (
    "id", "payme_id", "payme_time", "amount", "account", "order_id", "order_number", "payment_id", "state",
    "reason", "create_time", "perform_time", "cancel_time", "created_at", "updated_at")})
_PERFORMED = update(_TABLE).where(_TABLE.c.id == bindparam("b_row")).values(
    state=bindparam("b_state"), perform_time=bindparam("b_perform_time"), updated_at=bindparam("b_updated_at"))
_NAMED_ROW = _TABLE.c.payme_id == bindparam("b_payme_id")
#: What each short-path call reads with the kernel's order and payment, in its one statement.
_CHECK = GatewayQuery(values={"key": STORED_KEY})
#: Our row's columns a Create or Perform answers from (not the account or the fiscal data).
_ROW = ("id", "payme_id", "payme_time", "amount", "order_id", "order_number", "payment_id", "state", "reason",
        "create_time", "perform_time", "cancel_time")
_CREATE = GatewayQuery(own=_TABLE, own_where=_NAMED_ROW, own_columns=_ROW, values={"key": STORED_KEY},
                       report="authorize")
_PERFORM = GatewayQuery(own=_TABLE, own_where=_NAMED_ROW, own_columns=_ROW, lock_own=True, order_from_own="order_id",
                        values={"key": STORED_KEY}, report="capture")


def _read(session: Session, payme_id: str, *, lock: bool) -> SimpleNamespace | None:
    row = session.connection().execute(_LOCK if lock else _SELECT, {"b_payme_id": payme_id}).first()
    return SimpleNamespace(**row._mapping) if row is not None else None


def _save(session: Session, tx: SimpleNamespace, **values: Any) -> None:
    """Write ``values`` to the (locked) row ``tx`` and to ``tx``."""
    values["updated_at"] = datetime.now(UTC)
    session.connection().execute(_UPDATE, {"b_id": tx.id, **values})
    tx.__dict__.update(values)


class Merchant:
    """Answers one JSON-RPC call: ``answer(authorization, method, params)`` returns ``result`` or
    raises ``PaymeError``."""

    def __init__(self, toolbox: Toolbox, settings: PaymeSettings, credentials: Credentials) -> None:
        self.toolbox = toolbox
        self.settings = settings
        self.credentials = credentials
        self.payments = PaymentService(toolbox)
        #: The methods of the general path (one transaction, auth first).
        self.methods: dict[str, Callable[[Session, dict[str, Any]], dict[str, Any] | e.PaymeError]] = {
            "CancelTransaction": self.cancel_transaction,
            "CheckTransaction": self.check_transaction,
            "GetStatement": self.get_statement,
            "SetFiscalData": self.set_fiscal_data,
            "ChangePassword": self.change_password,
        }
        #: The three calls of every payment: each parses once and reads once.
        self.short_path: dict[str, Callable[[str | None, dict[str, Any]], dict[str, Any] | e.PaymeError]] = {
            "CheckPerformTransaction": self._short_check,
            "CreateTransaction": self._short_create,
            "PerformTransaction": self._short_perform,
        }

    def answer(self, authorization: str | None, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One authenticated call (the kassa key is read with what the call reads): returns
        ``result`` or raises ``PaymeError``. An error the method *returns* is answered after
        COMMIT (so a timeout cancellation is kept), one it *raises* rolls everything back."""
        short = self.short_path.get(method)
        if short is not None:
            outcome = short(authorization, params)
        else:
            try:
                with self.toolbox.db.transaction() as session:
                    outcome = self._call(session, authorization, method, params)
            except IntegrityError:
                raise e.PaymeError(e.CANNOT_PERFORM) from None
        if isinstance(outcome, e.PaymeError):
            raise outcome
        return outcome

    def _refused(self, authorization: str | None, refusal: e.PaymeError,
                 session: Session | Connection | None = None) -> e.PaymeError:
        """``refusal`` once the auth is verified (the key read on ``session`` or on an autocommit
        connection): an unauthenticated caller learns nothing about parameters or orders."""
        if session is None:
            with self.payments.reader() as connection:
                return self._refused(authorization, refusal, connection)
        if not self.credentials.verify(authorization, session):
            return e.PaymeError(e.INSUFFICIENT_PRIVILEGES)
        return refusal

    # ------------------------------------------------------------------ the short path
    def _short_check(self, authorization: str | None, params: dict[str, Any]) -> dict[str, Any] | e.PaymeError:
        try:
            amount, number = self._amount(params), self._account(params)
        except e.PaymeError as refusal:
            return self._refused(authorization, refusal)
        with self.payments.reader() as connection:
            state = self.payments.read_for_report(connection, _CHECK, provider_id=PROVIDER_ID, key=number,
                                                  params={"b_cred_name": self.credentials.name},
                                                  lock=False, lines=True)
            if state is None:
                return self._refused(authorization, self._no_order(), connection)
        if not self.credentials.verify(authorization, stored=state.values["key"]):
            return e.PaymeError(e.INSUFFICIENT_PRIVILEGES)
        if state.view.number != number:  # named by its id: not an order the payer can know
            return self._no_order()
        self._check_payable(state.view, amount)
        return {"allow": True, "detail": receipt_detail(state.view)}

    def _short_create(self, authorization: str | None, params: dict[str, Any]) -> dict[str, Any] | e.PaymeError:
        try:
            payme_id = self._payme_id(params)
            payme_time = self._timestamp(params, "time", low=PAYME_TIME_MIN, high=PAYME_TIME_MAX)
            amount, number = self._amount(params), self._account(params)
            account = self._bounded_json(params["account"], "account")
        except e.PaymeError as refusal:
            return self._refused(authorization, refusal)
        for attempt in range(2):
            try:
                with self.toolbox.db.transaction() as session:
                    outcome = self._create_read(session, authorization, payme_id, payme_time, amount, number,
                                                account)
                break
            except IntegrityError:
                # A concurrent CreateTransaction inserted the same Payme id (or an open
                # transaction for the order) first: the retry answers from its row.
                if attempt:
                    raise e.PaymeError(e.CANNOT_PERFORM) from None
        if outcome is None:
            with self.toolbox.db.transaction() as session:
                outcome = self._from_row(session, payme_id)
        return outcome

    def _from_row(self, session: Session, payme_id: str) -> dict[str, Any] | e.PaymeError:
        """CreateTransaction answered from our row of ``payme_id`` (locked now), or -31050 when
        there is none (the order it names is not one we sell with Payme)."""
        tx = self._lock(session, payme_id)
        return self._existing_create(session, tx) if tx is not None else self._no_order()

    def _create_read(self, session: Session, authorization: str | None, payme_id: str, payme_time: int,
                     amount: int, number: str, account: dict[str, Any]) -> dict[str, Any] | e.PaymeError | None:
        """CreateTransaction from its one read (every value as of after the locks); ``None``, the
        auth verified: "answer from our row, locked first" (an expired row is written; an order
        named by its id, not its number, is not ours to sell but Payme's id may have a row)."""
        state = self.payments.read_for_report(
            session, _CREATE, provider_id=PROVIDER_ID, key=number, gateway_transaction_id=payme_id,
            params={"b_cred_name": self.credentials.name, "b_payme_id": payme_id})
        if state is None:  # nothing read, nothing locked: the key alone, then our row
            if not self.credentials.verify(authorization, session):
                return e.PaymeError(e.INSUFFICIENT_PRIVILEGES)
            return self._from_row(session, payme_id)
        if not self.credentials.verify(authorization, stored=state.values["key"]):
            return e.PaymeError(e.INSUFFICIENT_PRIVILEGES)
        tx = state.own
        if state.view.number != number or (tx is not None and tx.state == CREATED and self._expired(tx)):
            # Our row is locked before the payment and the order in every other path.
            return None
        if tx is not None:
            return self._existing_create(session, tx)
        return self._insert(session, state, payme_id, payme_time, amount, account)

    def _short_perform(self, authorization: str | None, params: dict[str, Any]) -> dict[str, Any] | e.PaymeError:
        try:
            payme_id = self._payme_id(params)
        except e.PaymeError as refusal:
            return self._refused(authorization, refusal)
        with self.toolbox.db.transaction() as session:
            state = self.payments.read_for_report(
                session, _PERFORM, provider_id=PROVIDER_ID, gateway_transaction_id=payme_id,
                params={"b_cred_name": self.credentials.name, "b_payme_id": payme_id})
            if state is None or state.own is None:  # our row is read with its order and payment
                return self._refused(authorization, e.PaymeError(e.TRANSACTION_NOT_FOUND), session)
            if not self.credentials.verify(authorization, stored=state.values["key"]):
                return e.PaymeError(e.INSUFFICIENT_PRIVILEGES)
            return self._perform_locked(session, state.own, state)

    def _call(self, session: Session, authorization: str | None, method: str,
              params: dict[str, Any]) -> dict[str, Any] | e.PaymeError:
        if not self.credentials.verify(authorization, session):
            return e.PaymeError(e.INSUFFICIENT_PRIVILEGES)
        handler = self.methods.get(method)
        if handler is None:
            return e.PaymeError(e.METHOD_NOT_FOUND, data=method[:100])
        return handler(session, params)

    # ------------------------------------------------------------------ methods
    def cancel_transaction(self, session: Session, params: dict[str, Any]) -> dict[str, Any] | e.PaymeError:
        payme_id = self._payme_id(params)
        reason = params.get("reason")
        if isinstance(reason, bool) or not isinstance(reason, int) or reason not in REASONS:
            raise e.PaymeError(e.INVALID_REQUEST, data="reason")
        return self._cancel(session, payme_id, reason)

    def check_transaction(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        tx = self._find(session, self._payme_id(params), lock=False)
        return {"create_time": tx.create_time, "perform_time": tx.perform_time, "cancel_time": tx.cancel_time,
                "transaction": tx.id, "state": tx.state, "reason": tx.reason}

    def get_statement(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        start, end = self._timestamp(params, "from"), self._timestamp(params, "to")
        if start > end:  # no time is in [from, to]: an empty period, which is [] (spec §1.5.6)
            return {"transactions": []}
        rows = session.scalars(select(PaymeTransaction)
                               .where(PaymeTransaction.payme_time >= start, PaymeTransaction.payme_time <= end)
                               .order_by(PaymeTransaction.payme_time, PaymeTransaction.create_time)
                               .limit(MAX_STATEMENT_ROWS))
        return {"transactions": [statement_record(tx) for tx in rows]}

    def set_fiscal_data(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        payme_id = self._payme_id(params)
        kind = params.get("type")
        if kind not in ("PERFORM", "CANCEL"):
            raise e.PaymeError(e.INVALID_REQUEST, data="type")
        fiscal = params.get("fiscal_data")
        if not isinstance(fiscal, dict):
            raise e.PaymeError(e.INVALID_REQUEST, data="fiscal_data")
        fiscal = self._bounded_json(fiscal, "fiscal_data")
        tx = self._lock(session, payme_id)
        if tx is None:
            raise e.PaymeError(e.RECEIPT_NOT_FOUND)
        _save(session, tx, **{"fiscal_perform" if kind == "PERFORM" else "fiscal_cancel": fiscal})
        return {"success": True}

    def change_password(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        password = params.get("password")
        if not isinstance(password, str) or not password.strip() or len(password) > 256:
            raise e.PaymeError(e.ORDER_NOT_FOUND, data="password", message=e.BAD_PASSWORD_MESSAGE)
        if not self.credentials.change(password, session):
            raise e.PaymeError(e.INSUFFICIENT_PRIVILEGES)
        log.info("payme: the kassa key was changed by ChangePassword")
        return {"success": True}

    # ------------------------------------------------------------------ state changes
    def _existing_create(self, session: Session, tx: SimpleNamespace) -> dict[str, Any] | e.PaymeError:
        """A repeated CreateTransaction: answered from our row (or refused, or expired now)."""
        if tx.state != CREATED:
            return e.PaymeError(e.CANNOT_PERFORM)
        if self._expired(tx):
            self._expire(session, tx)
            return e.PaymeError(e.CANNOT_PERFORM)
        return {"create_time": tx.create_time, "transaction": tx.id, "state": tx.state}

    def _insert(self, session: Session, state: GatewayState, payme_id: str, payme_time: int, amount: int,
                account: dict[str, Any]) -> dict[str, Any] | e.PaymeError:
        """A new transaction: our row and the kernel's authorization, written together."""
        view = state.view
        self._check_payable(view, amount)
        now = now_ms()
        if payme_time + TIMEOUT_MS <= now:
            return e.PaymeError(e.CANNOT_PERFORM)
        assert view.payment is not None
        stamp = datetime.now(UTC)
        tx = SimpleNamespace(id=new_id("pmt"), payme_id=payme_id, payme_time=payme_time, amount=amount,
                             account=account, order_id=view.id, order_number=view.number,
                             payment_id=view.payment.id, state=CREATED, reason=None, create_time=now,
                             perform_time=0, cancel_time=0, created_at=stamp, updated_at=stamp)
        hold_until = datetime.fromtimestamp((payme_time + TIMEOUT_MS) / 1000, UTC)
        payment_id = view.payment.id
        row = {f"b_{k}": v for k, v in vars(tx).items()}
        self._kernel(lambda: self.payments.authorize_in_session(
            session, PROVIDER_ID, payment_id, gateway_transaction_id=payme_id, amount=amount,
            hold_until=hold_until, data={"payme_time": payme_time}, state=state, also=[(_INSERT_ROW, row)]))
        log.info("payme: transaction %s created for order %s", payme_id, view.number)
        return {"create_time": tx.create_time, "transaction": tx.id, "state": tx.state}

    def _perform_locked(self, session: Session, tx: SimpleNamespace, state: GatewayState) -> dict[str, Any] | e.PaymeError:
        """PerformTransaction of our locked row ``tx`` (its order and payment read and locked in ``state``)."""
        if tx.state == PERFORMED:
            return self._perform_result(tx)
        if tx.state != CREATED:
            return e.PaymeError(e.CANNOT_PERFORM)
        if self._expired(tx):
            self._expire(session, tx)
            return e.PaymeError(e.CANNOT_PERFORM)
        view = state.view
        if view.status == "canceled" or view.payment is None or view.payment.status not in ("pending", "authorized"):
            # The order was cancelled meanwhile: refuse, so Payme does not take the money.
            return e.PaymeError(e.CANNOT_PERFORM)
        performed = {"b_row": tx.id, "b_state": PERFORMED, "b_perform_time": now_ms(),
                     "b_updated_at": datetime.now(UTC)}
        # An order whose total changed since CreateTransaction is not paid with the old amount.
        self._kernel(lambda: self.payments.capture_in_session(
            session, PROVIDER_ID, tx.payment_id, gateway_transaction_id=tx.payme_id, amount=tx.amount,
            state=state, also=[(_PERFORMED, performed)]), amount_error=e.CANNOT_PERFORM)
        tx.state, tx.perform_time, tx.updated_at = PERFORMED, performed["b_perform_time"], performed["b_updated_at"]
        log.info("payme: transaction %s performed, order %s paid", tx.payme_id, tx.order_number)
        return self._perform_result(tx)

    def _cancel(self, session: Session, payme_id: str, reason: int) -> dict[str, Any] | e.PaymeError:
        tx = self._find(session, payme_id, lock=True)
        if tx.state in (CANCELED, CANCELED_AFTER_PERFORM):
            return self._cancel_result(tx)
        if tx.state == CREATED:
            self._kernel_cancel(session, tx, f"payme: cancelled (reason {reason})")
            state = CANCELED
        else:
            view = self._order(session, tx.order_id)
            if not self._may_cancel_performed(view):
                return e.PaymeError(e.CANNOT_CANCEL)
            self._kernel(lambda: self.payments.refund_in_session(
                session, PROVIDER_ID, tx.payment_id, gateway_transaction_id=payme_id, amount=tx.amount,
                data={"reason": reason}), tolerate=("payment_refunded",), amount_error=e.CANNOT_PERFORM)
            state = CANCELED_AFTER_PERFORM
        _save(session, tx, state=state, reason=reason, cancel_time=now_ms())
        log.info("payme: transaction %s cancelled (state %s, reason %s)", payme_id, tx.state, reason)
        return self._cancel_result(tx)

    def _expire(self, session: Session, tx: SimpleNamespace) -> None:
        self._kernel_cancel(session, tx, "payme: 12 h timeout")
        _save(session, tx, state=CANCELED, reason=REASON_TIMEOUT, cancel_time=now_ms())
        log.info("payme: transaction %s expired", tx.payme_id)

    def _kernel_cancel(self, session: Session, tx: SimpleNamespace, reason: str) -> None:
        # The order may already be cancelled (expiry job, staff): the Payme side still closes.
        self._kernel(lambda: self.payments.cancel_in_session(
            session, PROVIDER_ID, tx.payment_id, gateway_transaction_id=tx.payme_id, reason=reason),
            tolerate=("payment_canceled", "payment_refunded", "refund_in_progress", "payment_refund_required"))

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _kernel(call: Callable[[], Any], tolerate: tuple[str, ...] = (), amount_error: int = e.WRONG_AMOUNT) -> Any:
        """A kernel report; its refusals become Merchant API errors."""
        try:
            return call()
        except InvalidInput as exc:
            raise e.PaymeError(amount_error if exc.code == "amount_mismatch" else e.CANNOT_PERFORM) from exc
        except Conflict as exc:
            if exc.code in tolerate:
                return None
            raise e.PaymeError(e.CANNOT_PERFORM) from exc
        except NotFound as exc:
            raise e.PaymeError(e.TRANSACTION_NOT_FOUND) from exc
        except ToolboxError as exc:
            raise e.PaymeError(e.SYSTEM_ERROR) from exc

    def _order(self, session: Session, order_id: str) -> OrderView:
        """The order (locked, without its lines) a transaction of ours belongs to."""
        try:
            view = order_view_in_session(session, order_id, lock=True, lines=False)
        except NotFound:
            raise self._no_order() from None
        if view.id != order_id:
            raise self._no_order()
        return view

    def _no_order(self) -> e.PaymeError:
        """-31050: no order we sell with Payme has the number the payer gave."""
        return e.PaymeError(e.ORDER_NOT_FOUND, data=self.settings.account_field)

    def _check_payable(self, view: OrderView, amount: int) -> None:
        if view.payment is None or view.payment.provider_id != PROVIDER_ID:
            raise self._no_order()
        if amount != view.total or amount != view.payment.amount:
            raise e.PaymeError(e.WRONG_AMOUNT)
        # ``authorized``: a Payme transaction of this order is open (one active per order);
        # ``captured`` / ``canceled``...: the order is paid or gone.
        if view.status != "pending_payment" or view.payment.status != "pending":
            raise e.PaymeError(e.CANNOT_PERFORM)

    def _may_cancel_performed(self, view: OrderView) -> bool:
        policy = self.settings.cancel_performed
        if policy == "never":
            return False
        if policy == "until_delivered":
            return view.fulfillment_status != "delivered" and view.status != "completed"
        return True

    @staticmethod
    def _lock(session: Session, payme_id: str) -> SimpleNamespace | None:
        return _read(session, payme_id, lock=True)

    def _find(self, session: Session, payme_id: str, *, lock: bool) -> SimpleNamespace:
        tx = _read(session, payme_id, lock=lock)
        if tx is None:
            raise e.PaymeError(e.TRANSACTION_NOT_FOUND)
        return tx

    @staticmethod
    def _expired(tx: SimpleNamespace) -> bool:
        return now_ms() > tx.payme_time + TIMEOUT_MS

    @staticmethod
    def _perform_result(tx: SimpleNamespace) -> dict[str, Any]:
        return {"transaction": tx.id, "perform_time": tx.perform_time, "state": tx.state}

    @staticmethod
    def _cancel_result(tx: SimpleNamespace) -> dict[str, Any]:
        return {"transaction": tx.id, "cancel_time": tx.cancel_time, "state": tx.state}

    # ------------------------------------------------------------------ parameter checks
    @staticmethod
    def _payme_id(params: dict[str, Any]) -> str:
        value = params.get("id")
        if not isinstance(value, str) or not _PAYME_ID.fullmatch(value):
            raise e.PaymeError(e.INVALID_REQUEST, data="id")
        return value

    @staticmethod
    def _timestamp(params: dict[str, Any], name: str, *, low: int = 0, high: int = 10**14 - 1) -> int:
        """An integer of milliseconds within ``low..high``; -32600 otherwise (GetStatement's
        bounds only select rows, so any value from 0 will do)."""
        value = params.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise e.PaymeError(e.INVALID_REQUEST, data=name)
        return value

    @staticmethod
    def _amount(params: dict[str, Any]) -> int:
        """The amount in tiyin: -32600 when the field is missing, -31001 when it is not a
        positive integer within bounds."""
        if "amount" not in params:
            raise e.PaymeError(e.INVALID_REQUEST, data="amount")
        value = params["amount"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
            raise e.PaymeError(e.WRONG_AMOUNT)
        return value

    def _account(self, params: dict[str, Any]) -> str:
        field = self.settings.account_field
        if "account" not in params:  # a required field missing (a wrong or empty one is -31050)
            raise e.PaymeError(e.INVALID_REQUEST, data="account")
        account = params["account"]
        value = account.get(field) if isinstance(account, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip() or len(value) > 20:
            raise e.PaymeError(e.ORDER_NOT_FOUND, data=field)
        return value.strip()

    @staticmethod
    def _bounded_json(value: Any, name: str) -> dict[str, Any]:
        if not isinstance(value, dict) or len(json.dumps(value, ensure_ascii=False)) > MAX_JSON_FIELD_BYTES:
            raise e.PaymeError(e.INVALID_REQUEST, data=name)
        return value


def statement_record(tx: PaymeTransaction | SimpleNamespace) -> dict[str, Any]:
    """One GetStatement entry (Payme's Transaction type), from the stored row."""
    return {"id": tx.payme_id, "time": tx.payme_time, "amount": tx.amount, "account": tx.account,
            "create_time": tx.create_time, "perform_time": tx.perform_time, "cancel_time": tx.cancel_time,
            "transaction": tx.id, "state": tx.state, "reason": tx.reason, "receivers": None}

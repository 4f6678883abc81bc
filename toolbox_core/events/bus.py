"""Relay and delivery: committed outbox rows become one delivery per (event, subscriber).

The flow, and where each guarantee comes from:

1. Domain code writes an :class:`OutboxEvent` in its own transaction (``emit``). A rollback
   removes it, so nothing is published for work that did not happen.
2. :meth:`EventBus.relay` claims a batch of unpublished events (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite, so several relays never take the same rows), inserts
   one :class:`EventDelivery` per matching subscriber, marks the events published and *claims*
   the new deliveries for ``jobs.delivery_lease_ms`` — all in one transaction. Only then are the
   Dramatiq messages sent. A crash between that commit and the send loses nothing: when the
   claim expires the relay dispatches the delivery again.
3. :meth:`EventBus.deliver` runs the subscriber outside any transaction, then records success,
   or a failure with exponential backoff (``jobs.min_backoff_ms`` doubling up to
   ``jobs.max_backoff_ms``) until ``max_retries`` retries are used and the delivery is parked
   as ``failed`` (``toolbox events failed``, ``toolbox events replay ID``).

Retries are scheduled in the database, not in the broker, so they survive restarts of every
process. Delivery is at least once; ``Event.id`` is stable so handlers can be idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dramatiq.middleware import TimeLimitExceeded
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from toolbox_core.asyncutil import resolve
from toolbox_core.db.base import utcnow
from toolbox_core.events import EMITTED_KEY
from toolbox_core.events.models import EventDelivery, OutboxEvent
from toolbox_core.events.registry import EventRegistry, index_by_name
from toolbox_core.events.types import Event, Subscriber
from toolbox_core.ids import new_id
from toolbox_core.jobs.failures import PermanentFailure, RetryLater
from toolbox_core.schemas import iso_utc

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox

log = logging.getLogger("toolbox.events")

#: How long a wake-up waits for Redis at most (it is a hint: see ``EventBus.wake_relay``).
WAKE_TIMEOUT_SECONDS = 0.25
#: After a failed wake-up, none goes to Redis for this long.
WAKE_PAUSE_SECONDS = 5.0

PENDING, DONE, FAILED = "pending", "done", "failed"
#: The built-in subscriber that runs embedded-mode jobs (``toolbox_core.events.plugin``).
JOBS_SUBSCRIBER = "core.jobs"


@dataclass(frozen=True)
class DrainResult:
    """What :meth:`EventBus.drain` did: deliveries run, and how many of them failed."""

    delivered: int
    failed: int


def backoff_ms(attempts: int, min_ms: int, max_ms: int) -> int:
    """Delay before retry number ``attempts`` (1-based): ``min_ms`` doubling, capped at ``max_ms``."""
    return min(max_ms, min_ms * 2 ** max(0, attempts - 1))


class EventBus:
    """``toolbox.events``: the registry, the subscribers, the relay and delivery.

    ``clock`` returns the current UTC time; tests pass their own to move time forward.
    """

    def __init__(self, toolbox: Toolbox, clock: Callable[[], datetime] = utcnow) -> None:
        self.toolbox = toolbox
        self.settings = toolbox.settings.jobs
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._relay_thread: threading.Thread | None = None
        self._saturated = False  # the last relay pass found max_in_flight deliveries claimed
        self._wake_paused_until = 0.0  # monotonic time before which no wake-up goes to Redis
        self._listen_for_commits()

    # ------------------------------------------------------------------ declarations
    @cached_property
    def registry(self) -> EventRegistry:
        """Every declared event type (``event_types`` hook of every enabled plugin)."""
        return EventRegistry.from_plugins(self.toolbox.plugins)

    @cached_property
    def subscribers(self) -> dict[str, Subscriber]:
        """Subscribers by name (``event_subscribers`` hook); a name used twice is a start-up error."""
        return index_by_name(self.toolbox.plugins, "event_subscribers", toolbox=self.toolbox)

    # ------------------------------------------------------------------ relay
    def relay(self, *, retry_now: bool = False) -> list[dict[str, Any]]:
        """One relay pass; returns the deliveries it claimed, as messages ready to send.

        Turns up to ``jobs.relay_batch_size`` unpublished events into deliveries and claims
        deliveries that are due (a scheduled retry whose time came, or a claim that expired).
        ``retry_now`` treats scheduled retries as due at once (tests, ``drain``).
        """
        now = self.clock()
        claim_until = now + timedelta(milliseconds=self.settings.delivery_lease_ms)
        subscribers = list(self.subscribers.values())
        messages: list[dict[str, Any]] = []
        with self.toolbox.db.transaction() as session:
            # Back-pressure: claim no more than workers can start before the claims expire.
            batch = min(self.settings.relay_batch_size, self.max_in_flight - self._in_flight(session, now))
            self._saturated = batch <= 0
            if self._saturated:
                return []
            events = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.occurred_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            rows = []
            for outbox in events:
                if outbox.name not in self.registry:
                    log.error("event %r (%s) is not declared with the event_types hook", outbox.name, outbox.id)
                event = _event_dict(outbox)
                for subscriber in subscribers:
                    if subscriber.matches(outbox.name):
                        delivery_id = new_id("dlv")
                        rows.append({
                            "id": delivery_id, "event_id": outbox.id, "subscriber": subscriber.name,
                            "status": PENDING, "attempts": 0, "next_attempt_at": now,
                            "claimed_until": claim_until, "created_at": now, "updated_at": now,
                        })
                        messages.append({"delivery_id": delivery_id, "subscriber": subscriber.name, "event": event})
            if rows:
                session.execute(insert(EventDelivery), rows)
            if events:
                session.execute(
                    update(OutboxEvent).where(OutboxEvent.id.in_([e.id for e in events])).values(published_at=now),
                    execution_options={"synchronize_session": False},
                )
            messages += self._claim_due(session, now, claim_until, batch, retry_now)
        return messages

    def _claim_due(self, session: Session, now: datetime, claim_until: datetime, batch: int,
                   retry_now: bool) -> list[dict[str, Any]]:
        due = select(EventDelivery.id).where(
            EventDelivery.status == PENDING,
            or_(EventDelivery.claimed_until.is_(None), EventDelivery.claimed_until <= now),
        )
        if not retry_now:
            due = due.where(EventDelivery.next_attempt_at <= now)
        ids = session.scalars(due.limit(batch).with_for_update(skip_locked=True)).all()
        if not ids:
            return []
        session.execute(
            update(EventDelivery).where(EventDelivery.id.in_(ids)).values(claimed_until=claim_until),
            execution_options={"synchronize_session": False},
        )
        pairs = session.execute(
            select(EventDelivery.id, EventDelivery.subscriber, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
            .where(EventDelivery.id.in_(ids))
        ).all()
        return [{"delivery_id": d, "subscriber": s, "event": _event_dict(e)} for d, s, e in pairs]

    # ------------------------------------------------------------------ delivery
    def deliver(self, message: dict[str, Any], *, batched: bool = False) -> bool:
        """Run one delivery (a message from :meth:`relay`) and record the outcome; ``True`` on success.

        The subscriber runs outside any transaction; its exception is recorded, never raised.
        With ``batched`` (Dramatiq workers) successes are written in batches a few milliseconds
        later; a crash in between only means the delivery runs again (at least once).
        """
        subscriber = self.subscribers.get(message["subscriber"])
        event = Event(**message["event"])
        try:
            if subscriber is None:
                raise LookupError(f"no subscriber named {message['subscriber']!r} is registered (plugin disabled?)")
            resolve(subscriber.handler(event, self.toolbox))
        except (Exception, TimeLimitExceeded) as exc:
            level = logging.INFO if isinstance(exc, RetryLater) else logging.WARNING
            log.log(level, "subscriber %s failed on %s %s: %s", message["subscriber"], event.name, event.id, exc)
            self._record_failure(message["delivery_id"], subscriber, exc, event)
            return False
        if batched:
            self._done.add(message["delivery_id"])
        else:
            self._record_success([message["delivery_id"]])
        return True

    @cached_property
    def _done(self) -> _DoneBuffer:
        return _DoneBuffer(self._record_success)

    def _record_success(self, delivery_ids: list[str]) -> None:
        with self.toolbox.db.transaction() as session:
            session.execute(
                update(EventDelivery)
                .where(EventDelivery.id.in_(delivery_ids), EventDelivery.status == PENDING)
                .values(status=DONE, attempts=EventDelivery.attempts + 1, claimed_until=None,
                        last_error=None, updated_at=self.clock()),
                execution_options={"synchronize_session": False},
            )

    def _retry_budget(self, subscriber: Subscriber | None, event: Event | None) -> int:
        """Retries allowed: the subscriber's, or for an embedded-mode job its ``JobSpec``'s."""
        if subscriber is not None and subscriber.max_retries is not None:
            return subscriber.max_retries
        if event is not None and subscriber is not None and subscriber.name == JOBS_SUBSCRIBER:
            budget = self.toolbox.jobs.max_retries_of(str(event.payload.get("job")))
            if budget is not None:
                return budget
        return self.settings.max_retries

    def _record_failure(self, delivery_id: str, subscriber: Subscriber | None, exc: BaseException,
                        event: Event | None = None) -> None:
        """Schedule the retry or park the delivery.

        :class:`PermanentFailure` parks it at once; :class:`RetryLater` waits ``after`` seconds
        (the normal backoff when ``None``) and, like any failure, uses one attempt of the budget.
        """
        max_retries = self._retry_budget(subscriber, event)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
        now = self.clock()
        with self.toolbox.db.transaction() as session:
            delivery = session.get(EventDelivery, delivery_id)
            if delivery is None or delivery.status != PENDING:
                return
            delivery.attempts += 1
            delivery.last_error = error
            delivery.claimed_until = None
            delivery.updated_at = now
            if isinstance(exc, PermanentFailure):
                delivery.status = FAILED
                log.error("delivery %s (%s) parked: permanent failure", delivery_id, delivery.subscriber)
            elif delivery.attempts > max_retries:
                delivery.status = FAILED
                log.error("delivery %s (%s) parked after %d attempts", delivery_id, delivery.subscriber, delivery.attempts)
            else:
                delay = backoff_ms(delivery.attempts, self.settings.min_backoff_ms, self.settings.max_backoff_ms)
                if isinstance(exc, RetryLater) and exc.delay_ms is not None:
                    delay = exc.delay_ms
                delivery.next_attempt_at = now + timedelta(milliseconds=delay)

    # ------------------------------------------------------------------ operators
    def failed(self, limit: int = 100) -> list[EventDelivery]:
        """Parked deliveries, newest first (``toolbox events failed``)."""
        with self.toolbox.db.session() as session:
            return list(session.scalars(
                select(EventDelivery).where(EventDelivery.status == FAILED)
                .order_by(EventDelivery.updated_at.desc()).limit(limit)
            ))

    def recent(self, limit: int = 20, types: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The last ``limit`` events, newest first, each with its deliveries (``toolbox events recent``).

        ``types`` are names or ``prefix.*`` patterns, as subscribers use them (a pattern never
        matches internal ``_`` events). An event with no delivery reached no subscriber.
        """
        query = select(OutboxEvent).order_by(OutboxEvent.occurred_at.desc(), OutboxEvent.id.desc()).limit(limit)
        if types:
            query = query.where(or_(*(
                OutboxEvent.name.startswith(t[:-1], autoescape=True) & ~OutboxEvent.name.startswith("_", autoescape=True)
                if t.endswith("*") else OutboxEvent.name == t
                for t in types
            )))
        with self.toolbox.db.session() as session:
            events = session.scalars(query).all()
            deliveries: dict[str, list[EventDelivery]] = {}
            if events:
                for delivery in session.scalars(
                    select(EventDelivery).where(EventDelivery.event_id.in_([e.id for e in events]))
                    .order_by(EventDelivery.subscriber)
                ):
                    deliveries.setdefault(delivery.event_id, []).append(delivery)
        return [{
            "id": e.id, "name": e.name, "version": e.version, "occurred_at": e.occurred_at,
            "published_at": e.published_at, "payload": e.payload,
            "deliveries": [{
                "id": d.id, "subscriber": d.subscriber, "status": d.status, "attempts": d.attempts,
                "last_error": d.last_error, "next_attempt_at": d.next_attempt_at, "updated_at": d.updated_at,
            } for d in deliveries.get(e.id, [])],
        } for e in events]

    def replay(self, ident: str) -> int:
        """Make a delivery (``dlv_...``) or every delivery of an event (``evt_...``) due again.

        Attempts start over. Returns how many deliveries were rescheduled; raises
        :class:`toolbox_core.errors.NotFound` for an unknown id.
        """
        from toolbox_core.errors import NotFound

        column = EventDelivery.event_id if ident.startswith("evt_") else EventDelivery.id
        now = self.clock()
        with self.toolbox.db.transaction() as session:
            result = session.execute(
                update(EventDelivery).where(column == ident)
                .values(status=PENDING, attempts=0, next_attempt_at=now, claimed_until=None, updated_at=now),
                execution_options={"synchronize_session": False},
            )
            count = result.rowcount or 0
        if not count:
            raise NotFound(f"no delivery or event with id {ident!r}")
        self.wake_relay()
        return count

    def purge_delivered(self, older_than: timedelta) -> int:
        """Delete events published before ``now - older_than`` whose deliveries all succeeded.

        Their delivery rows go with them; an event with a pending or parked delivery stays.
        Returns how many events were deleted.
        """
        cutoff = self.clock() - older_than
        unfinished = select(EventDelivery.id).where(
            EventDelivery.event_id == OutboxEvent.id, EventDelivery.status != DONE)
        with self.toolbox.db.transaction() as session:
            ids = session.scalars(select(OutboxEvent.id).where(
                OutboxEvent.published_at < cutoff, ~unfinished.exists())).all()
            for start in range(0, len(ids), 1000):
                chunk = ids[start:start + 1000]
                session.execute(delete(EventDelivery).where(EventDelivery.event_id.in_(chunk)))
                session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(chunk)))
        return len(ids)

    def counts(self) -> dict[str, int]:
        """Deliveries by status, plus ``unpublished`` outbox rows."""
        with self.toolbox.db.session() as session:
            rows = dict(session.execute(
                select(EventDelivery.status, func.count()).group_by(EventDelivery.status)).all())
            unpublished = session.scalar(
                select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None)))
        return {"unpublished": unpublished or 0, PENDING: rows.get(PENDING, 0),
                DONE: rows.get(DONE, 0), FAILED: rows.get(FAILED, 0)}

    # ------------------------------------------------------------------ draining (tests, CLI)
    def drain(self, timeout: float = 10.0, *, retry_now: bool = False) -> DrainResult:
        """Relay everything pending and run every due delivery in the calling thread, until none is left.

        For tests and scripts: after ``drain()`` every committed event has reached every matching
        subscriber once (or had its failure recorded). Deliveries claimed by another worker
        are waited for. Scheduled retries are left for later unless ``retry_now`` is true, which
        runs them at once until they succeed or are parked. Raises :class:`TimeoutError` if
        deliveries are still in flight elsewhere after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        delivered = failed = 0
        while True:
            messages = self.relay(retry_now=retry_now)
            for message in messages:
                ok = self.deliver(message)
                delivered += ok
                failed += not ok
            if messages:
                continue
            with self.toolbox.db.session() as session:
                in_flight = self._in_flight(session, self.clock())
            if not in_flight:
                return DrainResult(delivered, failed)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{in_flight} deliveries still claimed by another worker after {timeout}s")
            time.sleep(0.02)

    @property
    def max_in_flight(self) -> int:
        """Claimed, unfinished deliveries above which the relay waits (4 relay batches)."""
        return 4 * self.settings.relay_batch_size

    @staticmethod
    def _in_flight(session: Session, now: datetime) -> int:
        """Deliveries claimed by a worker and not finished yet."""
        return session.scalar(
            select(func.count()).select_from(EventDelivery).where(
                EventDelivery.status == PENDING, EventDelivery.claimed_until > now)
        ) or 0

    # ------------------------------------------------------------------ relay loop
    def start_relay(self, send: Callable[[list[dict[str, Any]]], None]) -> None:
        """Run the relay in a background thread, handing claimed deliveries to ``send``.

        It wakes every ``jobs.relay_poll_interval_ms``, and at once after a transaction of this
        process that emitted an event commits.
        """
        if self._relay_thread is not None:
            return
        self._stop.clear()
        thread = threading.Thread(target=self._relay_loop, args=(send,), name="toolbox-relay", daemon=True)
        self._relay_thread = thread
        thread.start()

    def stop_relay(self, timeout: float = 5.0) -> None:
        thread, self._relay_thread = self._relay_thread, None
        if thread is not None:
            self._stop.set()
            self.wake_relay()
            thread.join(timeout)

    def _relay_loop(self, send: Callable[[list[dict[str, Any]]], None]) -> None:
        interval = self.settings.relay_poll_interval_ms / 1000
        while not self._stop.is_set():
            try:
                messages = self.relay()
                if messages:
                    send(messages)
                if len(messages) >= self.settings.relay_batch_size:
                    continue  # more is waiting
                if self._saturated:  # workers are busy: look again soon, not after a full interval
                    self._stop.wait(min(interval, 0.02))
                    continue
            except Exception:
                log.exception("relay pass failed; retrying")
            self._wait_for_work(interval)

    def _wait_for_work(self, interval: float) -> None:
        if self._redis is None:
            self._wake.wait(interval)
            self._wake.clear()
            return
        try:  # woken by a commit in any process (see wake_relay)
            self._redis.blpop([self._wake_key], timeout=interval)
        except Exception:
            log.warning("relay cannot wait on Redis; polling", exc_info=True)
            self._stop.wait(interval)

    def wake_relay(self) -> None:
        """Make a relay run now: this process's, and with Redis one relay of any process.

        Called after every commit that emitted events, so delivery does not wait for the poll
        interval; often on an API worker's event loop (a checkout). A wake-up is a hint, the
        relay's polling is the safety net: it waits at most :data:`WAKE_TIMEOUT_SECONDS` for
        Redis, a failure is logged, never raised, and after one no wake-up goes to Redis for
        :data:`WAKE_PAUSE_SECONDS`, so a Redis outage does not slow every checkout.
        """
        self._wake.set()
        if self._wake_redis is None or time.monotonic() < self._wake_paused_until:
            return
        try:
            self._wake_redis.pipeline(transaction=False).lpush(self._wake_key, 1).ltrim(self._wake_key, 0, 0).execute()
        except Exception:
            self._wake_paused_until = time.monotonic() + WAKE_PAUSE_SECONDS
            log.warning("could not wake the relay through Redis; not trying again for %.0f s", WAKE_PAUSE_SECONDS,
                        exc_info=True)

    @cached_property
    def _wake_redis(self) -> Any:
        """The Redis client for wake-ups: short timeouts (the relay's own waits long on ``BLPOP``)."""
        return self._redis_client(socket_timeout=WAKE_TIMEOUT_SECONDS, socket_connect_timeout=WAKE_TIMEOUT_SECONDS)

    @cached_property
    def _redis(self) -> Any:
        """The relay's Redis client: its ``BLPOP`` waits up to the poll interval."""
        return self._redis_client(socket_timeout=5 + self.settings.relay_poll_interval_ms / 1000)

    def _redis_client(self, **timeouts: float) -> Any:
        """A client of the configured Redis (``None`` without one)."""
        url = self.toolbox.settings.redis_url
        if not url:
            return None
        import redis

        return redis.Redis.from_url(url, **timeouts)

    @property
    def _wake_key(self) -> str:
        return f"{self.settings.redis_namespace}:events:relay-wake"

    def _listen_for_commits(self) -> None:
        """Wake the relay as soon as a transaction that emitted commits (no poll delay)."""
        engine = self.toolbox.db.engine

        def after_commit(session: Session) -> None:
            if session.info.get(EMITTED_KEY) and session.get_bind() is engine:
                self.wake_relay()

        sa_event.listen(Session, "after_commit", after_commit)
        self._after_commit = after_commit
        # The Redis client (and the import of redis) now, not inside the first request that
        # commits an event: that cost a worker's first payment callback about a quarter second.
        _ = self._wake_redis

    def flush(self) -> None:
        """Write the successes buffered by batched deliveries now."""
        if "_done" in self.__dict__:
            self._done.flush()

    def close(self) -> None:
        self.stop_relay()
        if "_done" in self.__dict__:
            self._done.close()
        if sa_event.contains(Session, "after_commit", self._after_commit):
            sa_event.remove(Session, "after_commit", self._after_commit)
        if self.__dict__.get("_redis") is not None:
            self._redis.close()


def _event_dict(outbox: OutboxEvent) -> dict[str, Any]:
    return {"id": outbox.id, "name": outbox.name, "payload": outbox.payload, "version": outbox.version,
            "occurred_at": iso_utc(outbox.occurred_at) or ""}


class _DoneBuffer:
    """Collects successful delivery ids and writes them in one statement a few milliseconds later.

    The writer thread sleeps until an id arrives (no wake-ups while idle), then waits
    ``interval`` so the ids of that moment go out together.
    """

    def __init__(self, write: Callable[[list[str]], None], interval: float = 0.02, max_size: int = 500) -> None:
        self._write = write
        self._interval = interval
        self._max_size = max_size
        self._ids: list[str] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._pending = threading.Event()  # set while ids wait to be written, or to stop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="toolbox-delivery-done", daemon=True)
        self._thread.start()

    def add(self, delivery_id: str) -> None:
        with self._lock:
            self._ids.append(delivery_id)
            full = len(self._ids) >= self._max_size
        self._pending.set()
        if full:
            self.flush()

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                ids, self._ids = self._ids, []
                self._pending.clear()
            if ids:
                try:
                    self._write(ids)
                except Exception:  # they stay claimed; the relay dispatches them again later
                    log.exception("could not record %d successful deliveries", len(ids))

    def _loop(self) -> None:
        while True:
            self._pending.wait()
            if self._stop.wait(self._interval):
                return
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._pending.set()
        self._thread.join(5)
        self.flush()

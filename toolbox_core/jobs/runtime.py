"""``toolbox.jobs``: the Dramatiq broker, the actors built from ``JobSpec`` s, and in-process workers.

With ``TOOLBOX_REDIS_URL`` set the broker is a :class:`RedisBroker` (keys prefixed with
``jobs.redis_namespace``) and ``toolbox worker`` consumes it. Without Redis (embedded mode) it
is an in-memory :class:`StubBroker` consumed by workers that ``toolbox serve`` runs in-process;
nothing is lost on restart because every event delivery is recorded in the database first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from dramatiq import Actor, Broker, Message, Retry, Worker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import current_millis

from toolbox_core.asyncutil import resolve
from toolbox_core.config import Settings
from toolbox_core.events import emit
from toolbox_core.events.catalog import JOB_REQUESTED
from toolbox_core.events.types import Event, JobSpec
from toolbox_core.jobs.failures import PermanentFailure, RetryLater
from toolbox_core.jobs.heartbeat import Heartbeat
from toolbox_core.plugins import PluginError

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox

log = logging.getLogger("toolbox.jobs")

#: The actor that runs one event delivery; its queue is ``EVENTS_QUEUE``.
DELIVER_ACTOR = "toolbox.deliver"
EVENTS_QUEUE = "events"


class BatchingRedisBroker(RedisBroker):
    """:class:`RedisBroker` that can enqueue many messages in one round trip (the relay's batches).

    ``enqueue_many`` issues the same ``dispatch`` script call as ``enqueue`` (Dramatiq 2.2), in
    a pipeline; middleware sees the usual ``before_enqueue``/``after_enqueue`` signals.
    """

    def enqueue_many(self, messages: list[Message[Any]]) -> None:
        dispatch = self.scripts["dispatch"]
        sent = []
        with self.client.pipeline(transaction=False) as pipe:
            for message in messages:
                message = message.copy(options={"redis_message_id": str(uuid4())})
                self.emit_before("enqueue", message, None)
                args = ["enqueue", current_millis(), message.queue_name, self.broker_id, self.heartbeat_timeout,
                        self.dead_message_ttl, 0, self._max_unpack_size(),
                        message.options["redis_message_id"], message.encode()]
                dispatch(keys=[self.namespace], args=args, client=pipe)
                sent.append(message)
            pipe.execute()
        for message in sent:
            self.emit_after("enqueue", message, None)


def _honouring_retry_later(spec: JobSpec) -> Any:
    """``spec.func`` for Dramatiq: :class:`RetryLater` becomes ``dramatiq.Retry`` with its delay.

    Dramatiq then re-enqueues the message after ``after`` seconds (the backoff when ``None``)
    without logging it as a crash; it still uses one retry of the budget.
    """

    def run(**kwargs: Any) -> Any:
        try:
            return resolve(spec.func(**kwargs))
        except RetryLater as exc:
            raise Retry(exc.reason, delay=exc.delay_ms) from exc

    run.__name__ = getattr(spec.func, "__name__", spec.name)
    run.__qualname__ = run.__name__
    return run


def build_broker(settings: Settings) -> Broker:
    """Redis broker when ``redis_url`` is set, otherwise an in-memory broker for in-process workers."""
    if settings.redis_url:
        return BatchingRedisBroker(url=settings.redis_url, namespace=f"{settings.jobs.redis_namespace}:dramatiq",
                                   heartbeat_timeout=settings.jobs.redis_heartbeat_timeout_ms,
                                   maintenance_chance=settings.jobs.redis_maintenance_chance)
    return StubBroker()


class Jobs:
    """The process's broker and actors; ``enqueue(name, **kwargs)`` runs job ``name`` in a worker."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox
        self.settings = toolbox.settings.jobs
        self.broker = build_broker(toolbox.settings)
        self.actors: dict[str, Actor[Any, Any]] = {}
        self.specs: dict[str, JobSpec] = {}
        self.worker: Worker | None = None
        self.heartbeat: Heartbeat | None = None
        self.actors[DELIVER_ACTOR] = Actor(
            self._deliver, broker=self.broker, actor_name=DELIVER_ACTOR, queue_name=EVENTS_QUEUE,
            priority=0,
            # Retries are scheduled in the database; a handler may not outlive its claim.
            options={"max_retries": 0, "time_limit": self.settings.delivery_lease_ms},
        )
        for plugin_name, specs in toolbox.plugins.call_each("register_jobs", toolbox=toolbox):
            for spec in specs:
                self._declare(plugin_name, spec)

    def _declare(self, plugin_name: str, spec: JobSpec) -> None:
        if spec.name in self.actors:
            raise PluginError(plugin_name, f"job name {spec.name!r} is already used", "give every job a unique name")
        options: dict[str, Any] = {
            "max_retries": self.settings.max_retries if spec.max_retries is None else spec.max_retries,
            "min_backoff": self.settings.min_backoff_ms,
            "max_backoff": self.settings.max_backoff_ms,
        }
        if spec.time_limit_ms is not None:
            options["time_limit"] = spec.time_limit_ms
        # PermanentFailure: Dramatiq's Retries middleware fails the message at once (dead letters).
        options["throws"] = (PermanentFailure,)
        options.update(spec.options)
        self.specs[spec.name] = spec
        self.actors[spec.name] = Actor(_honouring_retry_later(spec), broker=self.broker, actor_name=spec.name,
                                       queue_name=spec.queue, priority=0, options=options)

    def max_retries_of(self, name: str) -> int | None:
        """The ``JobSpec.max_retries`` of job ``name`` (``None``: the default, or no such job)."""
        spec = self.specs.get(name)
        return None if spec is None else spec.max_retries

    def enqueue(self, name: str, *, delay_ms: int | None = None, **kwargs: Any) -> str:
        """Run job ``name`` in a worker with keyword arguments (JSON-serializable); returns an id.

        With Redis the message goes to the broker. In embedded mode (and without ``delay_ms``)
        the request is written to the outbox as event ``_jobs.requested`` and run by the
        built-in subscriber ``core.jobs``: it survives a restart, and a failing job is retried
        and parked like any delivery (``toolbox events failed``). Call it after your
        transaction commits, never inside one.
        """
        if name not in self.specs:  # the kernel's own actors (event delivery) are not jobs
            raise KeyError(f"no job named {name!r} (known jobs: {', '.join(sorted(self.specs)) or 'none'}; "
                           f"kernel actors, not enqueued by name: {DELIVER_ACTOR})")
        actor = self.actors[name]
        if isinstance(self.broker, StubBroker) and delay_ms is None:
            with self.toolbox.db.transaction() as session:
                return emit(session, JOB_REQUESTED, {"job": name, "kwargs": kwargs})
        return actor.send_with_options(kwargs=kwargs, delay=delay_ms).message_id

    def run_requested(self, event: Event) -> None:
        """Run the job an ``_jobs.requested`` event asks for, in the calling thread.

        Every job is a :class:`JobSpec` (plugins declare jobs only through the ``register_jobs``
        hook, and :meth:`enqueue` takes only those names), so a name without a spec here is a job
        of a plugin this process lacks (e.g. mid-deploy): :class:`LookupError`, which the delivery
        retries and finally parks (``toolbox events failed``) — never run as another actor.
        """
        name = event.payload["job"]
        spec = self.specs.get(name)
        if spec is None:
            raise LookupError(f"no job named {name!r} is registered in this process")
        # The spec's own function, so RetryLater/PermanentFailure reach the delivery's bookkeeping.
        resolve(spec.func(**event.payload["kwargs"]))

    # ------------------------------------------------------------------ events
    def send_deliveries(self, messages: list[dict[str, Any]]) -> None:
        """Queue one Dramatiq message per delivery claimed by the relay."""
        actor = self.actors[DELIVER_ACTOR]
        if isinstance(self.broker, BatchingRedisBroker):
            self.broker.enqueue_many([actor.message(message) for message in messages])
            return
        for message in messages:
            actor.send(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        self.toolbox.events.deliver(message, batched=True)

    # ------------------------------------------------------------------ workers
    def start(self, threads: int | None = None, *, relay: bool = True) -> None:
        """Start Dramatiq worker threads in this process and, with ``relay``, the event relay."""
        if self.worker is None:
            threads = threads or self.settings.worker_threads
            # Idle threads wake this often (ms): short in memory so `serve` stops fast, gentler on Redis.
            idle_ms = 100 if isinstance(self.broker, RedisBroker) else 20
            self.worker = Worker(self.broker, worker_threads=threads, worker_timeout=idle_ms)
            self.worker.queue_prefetch = max(threads * 2, self.settings.worker_prefetch)
            self.worker.start()
            if isinstance(self.broker, RedisBroker):  # /ready and doctor: a worker consumes Redis
                self.heartbeat = Heartbeat(self.toolbox, threads)
                self.heartbeat.start()
        if relay:
            self.toolbox.events.start_relay(self.send_deliveries)

    def stop(self) -> None:
        """Stop the relay and the worker threads (in-flight deliveries finish or are re-dispatched)."""
        if "events" in self.toolbox.__dict__:
            self.toolbox.events.stop_relay()
        heartbeat, self.heartbeat = self.heartbeat, None
        if heartbeat is not None:
            heartbeat.stop()
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop(timeout=10_000)
        if "events" in self.toolbox.__dict__:
            self.toolbox.events.flush()

    def close(self) -> None:
        self.stop()
        self.broker.close()

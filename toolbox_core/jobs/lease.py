"""Job leases: one holder per job name across every process, kept alive while the job runs.

A lease is a key store entry ``jobs:lease:<name>`` whose value is the holder's random token,
taken with ``set_if_absent`` and a short expiry, renewed by a background thread every third of
that expiry, and given back with ``compare_and_consume`` (only by its holder). A process that
dies stops renewing, so its lease lapses after ``ttl_seconds`` and the next run may start.

The scheduler takes the lease of a job around every run (ticks and ``run_now``), so a run that
outlasts its interval is never overlapped by the next tick or by ``toolbox jobs run NAME``.
Plugins take the same lease (``toolbox.scheduler.lease(name)``) for runs they start themselves,
e.g. a CLI command or a webhook job doing the same work as a scheduled job.

A lease that could not be renewed is *lost*: another process may already run the job. While a
thread holds a lease it is that thread's current lease, and :func:`ensure_lease_held` raises
:class:`LeaseLost` there once it is lost. The kernel's stock writes call it before every batch,
so a sync that lost its lease stops instead of racing its successor; a long job of a plugin calls
it between its own steps.
"""

from __future__ import annotations

import logging
import secrets
import threading
from contextlib import suppress
from contextvars import ContextVar, Token
from types import TracebackType

from toolbox_core.errors import Conflict
from toolbox_core.keystore.base import KeyStore

log = logging.getLogger("toolbox.jobs")

#: Default lease expiry: a holder that stops renewing loses the lease after this long.
DEFAULT_LEASE_SECONDS = 60.0


class LeaseHeld(Conflict):
    """The job is running elsewhere (another process or thread holds its lease)."""

    code = "job_running"


class LeaseLost(Conflict):
    """The running job's lease could not be renewed (expired or taken over): stop writing."""

    code = "job_lease_lost"


#: The lease held by the code running in this thread (set by ``acquire``, cleared by ``release``).
_current: ContextVar[JobLease | None] = ContextVar("toolbox_job_lease", default=None)


def current_lease() -> JobLease | None:
    """The lease held by the code running in this thread (``None`` outside a leased job).

    A lease that is no longer held (released, e.g. from another thread) is never current."""
    lease = _current.get()
    return lease if lease is not None and lease.held else None


def ensure_lease_held() -> None:
    """Raise :class:`LeaseLost` if the current thread runs under a lease that was lost.

    Outside a leased job it does nothing, so shared code (the stock writes) may call it always."""
    lease = current_lease()
    if lease is not None:
        lease.check()


class JobLease:
    """The lease of job ``name``; use as a context manager (raises :class:`LeaseHeld`) or
    ``acquire()`` / ``release()``. ``lost`` turns true if a renewal failed (the job should stop)."""

    def __init__(self, keystore: KeyStore, name: str, ttl_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.keystore = keystore
        self.name = name
        self.key = f"jobs:lease:{name}"
        self.ttl = float(ttl_seconds)
        self.token = secrets.token_hex(16)
        self.held = False
        self.lost = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._context: Token[JobLease | None] | None = None

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; ``True`` if taken (then renewed until released)."""
        if not self.keystore.set_if_absent(self.key, self.token, int(max(1, self.ttl))):
            return False
        self.held, self.lost = True, False
        self._stop.clear()
        renewer = threading.Thread(target=self._renew_loop, name=f"lease-{self.name}", daemon=True)
        try:
            renewer.start()
        except BaseException:  # no renewer (e.g. no thread left): give the lease straight back
            self.release()
            raise
        self._renewer = renewer
        self._context = _current.set(self)  # current only once it is renewed
        return True

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.keystore.renew(self.key, self.token, self.ttl):
                    self.lost = True
                    log.error("job %s lost its lease (expired or taken over)", self.name)
                    return
            except Exception:  # the store is briefly unreachable: try again next round
                log.warning("job %s could not renew its lease", self.name, exc_info=True)

    def check(self) -> None:
        """Raise :class:`LeaseLost` if a renewal found the lease expired or taken over."""
        if self.lost:
            raise LeaseLost(f"job {self.name!r} lost its lease; another process may be running it",
                            details={"job": self.name})

    def release(self) -> None:
        """Stop renewing and give the lease back (only if still ours)."""
        self._stop.set()
        if self._context is not None:
            if _current.get() is self:  # not if released elsewhere or out of order
                with suppress(ValueError):  # the same lease, but set in another context
                    _current.reset(self._context)
            self._context = None
        if self._renewer is not None:
            self._renewer.join(timeout=5)
            self._renewer = None
        if self.held:
            self.held = False
            try:
                self.keystore.compare_and_consume(self.key, self.token)
            except Exception:  # it lapses by itself
                log.warning("job %s could not release its lease", self.name, exc_info=True)

    def __enter__(self) -> JobLease:
        if not self.acquire():
            raise LeaseHeld(f"job {self.name!r} is already running", details={"job": self.name})
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

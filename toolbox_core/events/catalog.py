"""Event types owned by the events domain itself.

Each domain declares the events it emits in its own built-in plugin (``order.*`` in
``checkout/plugin.py``, ``payment.*`` in ``payments/plugin.py``, ``product.*`` in
``catalog/plugin.py``, ``inventory.updated`` in ``inventory/plugin.py``, ``customer.created`` in
``customers/plugin.py``); ``toolbox events types`` and ``docs/events.md`` list them all.
"""

from __future__ import annotations

from toolbox_core.events.types import EventType

#: Internal: a job enqueued in embedded mode, kept in the outbox until the subscriber runs it.
JOB_REQUESTED = "_jobs.requested"

KERNEL_EVENT_TYPES: list[EventType] = [
    EventType(
        JOB_REQUESTED,
        "Internal (embedded mode only): `toolbox.jobs.enqueue` was called; the built-in subscriber "
        "`core.jobs` runs the job. Wildcard subscribers never receive it.",
        {"job": "Job name (`JobSpec.name`)", "kwargs": "Keyword arguments for the job"},
    ),
]

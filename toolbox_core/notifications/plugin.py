"""Built-in plugin: the ``notify.send`` job behind ``toolbox.notify``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolbox_core.events.types import JobSpec
from toolbox_core.plugins import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox

PLUGIN_NAME = "core.notifications"


@hookimpl
def register_jobs(toolbox: Toolbox) -> list[JobSpec]:
    from toolbox_core.notifications.service import NOTIFY_JOB, send_notification

    def send(**kwargs: Any) -> None:  # Dramatiq keeps no results: return nothing
        send_notification(toolbox, **kwargs)

    return [JobSpec(NOTIFY_JOB, send, queue="notifications")]

"""``toolbox.notify``: render a template and send it through the channel of its kind, in a job.

The call only enqueues job ``notify.send`` (see :mod:`toolbox_core.notifications.plugin`); the job
resolves what the caller left out (recipient and locale from the order or customer in ``data``),
renders the text and calls the channel outside any transaction. Channel errors decide the
retries: :class:`~toolbox_core.api.PermanentFailure` stops them, ``RetryLater`` waits, anything
else is retried with backoff. With an ``idempotency_key`` a notification that was sent is never
sent again (the key store remembers it), and the channel receives the key to dedupe on its side.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from toolbox_core.asyncutil import resolve
from toolbox_core.jobs.failures import PermanentFailure
from toolbox_core.money import format_som
from toolbox_core.providers import Notification, NotificationChannel

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox

log = logging.getLogger("toolbox.notifications")

NOTIFY_JOB = "notify.send"
#: How long a sent idempotency key is remembered.
SENT_TTL_SECONDS = 30 * 24 * 3600


def sent_key(idempotency_key: str) -> str:
    return f"notify:sent:{idempotency_key}"


def notify(toolbox: Toolbox, template: str, to: str | None = None, locale: str | None = None,
           data: dict[str, Any] | None = None, idempotency_key: str | None = None, *,
           kind: str | None = None) -> str:
    """Queue notification ``template`` for ``to`` (a ``+998...`` phone or an e-mail); returns the job id.

    ``to``/``locale`` may be ``None`` when ``data`` has an ``order_id`` or ``customer_id``: the
    job reads them from that order or customer. ``kind`` (``"sms"``, ``"email"``) defaults to
    ``sms`` for phones and ``email`` for addresses. Call it outside any transaction.
    """
    if template not in toolbox.templates:
        raise KeyError(f"no notification template named {template!r}")
    return toolbox.jobs.enqueue(NOTIFY_JOB, template=template, to=to, locale=locale, data=data or {},
                                idempotency_key=idempotency_key, kind=kind)


def send_notification(toolbox: Toolbox, template: str, to: str | None, locale: str | None,
                      data: dict[str, Any], idempotency_key: str | None, kind: str | None) -> str | None:
    """The body of job ``notify.send``: resolve, render, send once; returns the channel's message id."""
    if idempotency_key and toolbox.keystore.get(sent_key(idempotency_key)) is not None:
        log.info("notification %s already sent; skipped", idempotency_key)
        return None
    given = {key: value for key, value in data.items() if value is not None}
    data = {**order_data(toolbox, given), **given}
    if isinstance(data.get("total"), int) and "total_som" not in data:
        data["total_som"] = format_som(data["total"])
    to = to or data.get("phone")
    locale = locale or data.get("locale") or toolbox.settings.default_locale
    if not to:
        raise PermanentFailure(f"notification {template!r} has no recipient (no phone, order or customer)")
    channel = channel_for(toolbox, kind or ("email" if "@" in to else "sms"))
    text = toolbox.templates.render(template, locale, data)
    message_id = resolve(channel.send(Notification(to=to, text=text, template=template, data={**data, "locale": locale},
                                                   idempotency_key=idempotency_key)))
    if idempotency_key:
        toolbox.keystore.set(sent_key(idempotency_key), message_id or "sent", SENT_TTL_SECONDS)
    return message_id


def channel_for(toolbox: Toolbox, kind: str) -> NotificationChannel:
    """The channel for ``kind``: ``notifications.channels[kind]`` if set, else the only/first one."""
    chosen = toolbox.settings.notifications.channels.get(kind)
    channels = toolbox.notification_channels
    if chosen is not None:
        if chosen not in channels:
            raise PermanentFailure(f"notification channel {chosen!r} (notifications.channels.{kind}) is not enabled")
        return channels[chosen]
    for channel in channels.values():
        if channel.kind == kind:
            return channel
    raise PermanentFailure(f"no notification channel of kind {kind!r} is enabled")


def order_data(toolbox: Toolbox, data: dict[str, Any]) -> dict[str, Any]:
    """Recipient, locale and order facts from ``data['order_id']`` or ``data['customer_id']``."""
    from toolbox_core.customers.models import Customer
    from toolbox_core.orders.models import Order

    found: dict[str, Any] = {}
    if not data.get("order_id") and not data.get("customer_id"):
        return found
    with toolbox.db.session() as session:
        if data.get("order_id"):
            order = session.get(Order, data["order_id"])
            if order is not None:
                found = {"phone": order.phone, "locale": order.locale, "number": order.number,
                         "total": order.total, "customer_id": order.customer_id,
                         "shipping_name": (order.shipping or {}).get("name")}
        if not found and data.get("customer_id"):
            row = session.execute(select(Customer.phone, Customer.locale)
                                  .where(Customer.id == data["customer_id"])).first()
            if row is not None:
                found = {"phone": row.phone, "locale": row.locale}
    return {key: value for key, value in found.items() if value is not None}

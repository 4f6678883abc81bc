"""The SMS notification channel, the sign-in code sender, the subscribers and default texts."""

from __future__ import annotations

import logging
from typing import Any, Literal

from toolbox_core.api import (
    Event,
    Notification,
    NotificationTemplate,
    PermanentFailure,
    RetryLater,
    Subscriber,
    Toolbox,
    format_som,
    otp_text,
)
from toolbox_eskiz.runtime import service_of, settings_of
from toolbox_eskiz.service import Outgoing

log = logging.getLogger("toolbox.eskiz")

CHANNEL_ID = "eskiz"


class EskizChannel:
    """Notification channel ``eskiz`` (kind ``sms``): one Eskiz SMS per notification, once per key."""

    id = CHANNEL_ID
    kind = "sms"

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox

    def send(self, notification: Notification) -> str:
        sms = Outgoing(phone=notification.to, text=notification.text, template=notification.template,
                       locale=str(notification.data.get("locale") or "ru"),
                       idempotency_key=notification.idempotency_key)
        return service_of(self.toolbox).send(sms)


class EskizOtpSender:
    """OTP sender ``eskiz`` (``TOOLBOX_AUTH__OTP_SENDER=eskiz``): the code SMS in the customer's locale.

    It never raises: the sign-in answer is the same whether the SMS went out or not. Failures
    and anti-pumping blocks are recorded (``/admin/eskiz/messages``) and logged, and answered
    ``False`` (nothing sent), so the kernel keeps no code and starts no resend delay for them.
    """

    id = CHANNEL_ID

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox

    def send_code(self, phone: str, code: str, ttl: int, locale: str) -> str | Literal[False]:
        """The id of the SMS record once Eskiz took the SMS; ``False`` when nothing was sent."""
        settings = settings_of(self.toolbox)
        text = otp_text(self.toolbox, code, ttl, locale)
        sms = Outgoing(phone=phone, text=text, template="auth.otp_code", locale=locale,
                       shown_text=text.replace(code, "*" * len(code)))
        service = service_of(self.toolbox)
        store = self.toolbox.keystore
        minute = store.hit("eskiz:otp:minute", 60)
        if minute.count > settings.otp_max_per_minute:
            log.warning("code SMS blocked: more than %d this minute (SMS pumping?)", settings.otp_max_per_minute)
            service.record_blocked(sms, "global per-minute cap on code SMS reached")
            return False
        day = store.hit(f"eskiz:otp:day:{phone}", 24 * 3600)
        if day.count > settings.otp_max_per_phone_per_day:
            log.warning("code SMS blocked: daily cap for one phone reached")
            service.record_blocked(sms, "per-phone daily cap on code SMS reached")
            return False
        try:
            return service.send(sms, retried=False)
        except (PermanentFailure, RetryLater) as exc:
            log.error("code SMS not sent: %s", exc)
            return False
        except Exception:
            log.exception("code SMS not sent")
            return False


# ---------------------------------------------------------------------------- texts

TEMPLATES = [
    NotificationTemplate("order.placed", {
        "ru": "Заказ №{number} принят. Сумма: {total_som}. Доставка: {shipping_name}. Спасибо!",
        "uz": "Buyurtma №{number} qabul qilindi. Summa: {total_som}. Yetkazib berish: {shipping_name}. Rahmat!",
    }, "SMS to the customer when an order is placed", ("number", "total_som", "shipping_name")),
    NotificationTemplate("payment.captured", {
        "ru": "Оплата заказа №{number} получена: {amount_som}.",
        "uz": "№{number} buyurtma uchun to'lov qabul qilindi: {amount_som}.",
    }, "SMS when the payment of an order is taken", ("number", "amount_som")),
    NotificationTemplate("shipment.status_changed", {
        "ru": "Заказ №{order_number}: {status_text}. Трек-номер: {tracking_number}",
        "uz": "№{order_number} buyurtma: {status_text}. Trek raqami: {tracking_number}",
    }, "SMS when a shipment changes status", ("order_number", "status_text", "tracking_number")),
]

SHIPMENT_STATUS_TEXTS = {
    "ru": {"in_transit": "в пути", "delivered": "доставлен", "returned": "возвращён", "canceled": "отменён"},
    "uz": {"in_transit": "yo'lda", "delivered": "yetkazildi", "returned": "qaytarildi", "canceled": "bekor qilindi"},
}


def _message_data(event: Event) -> dict[str, Any]:
    data = dict(event.payload)
    shipping = data.get("shipping")
    if isinstance(shipping, dict) and shipping.get("name"):
        data.setdefault("shipping_name", shipping["name"])
    data.setdefault("shipping_name", "-")
    if isinstance(data.get("amount"), int):
        data["amount_som"] = format_som(data["amount"])
    if event.name == "shipment.status_changed":
        locale = str(data.get("locale") or "ru")
        texts = SHIPMENT_STATUS_TEXTS.get(locale, SHIPMENT_STATUS_TEXTS["ru"])
        data["status_text"] = texts.get(str(data.get("status")), str(data.get("status") or ""))
        data.setdefault("tracking_number", "-")
    return data


def _sms_for(event: Event, toolbox: Toolbox) -> None:
    """Queue the customer's SMS for ``event``; the event id makes it once-only."""
    data = _message_data(event)
    toolbox.notify(event.name, data.get("phone"), data.get("locale"), data,
                   idempotency_key=f"eskiz:{event.id}", kind="sms")


def subscribers(toolbox: Toolbox) -> list[Subscriber]:
    settings = settings_of(toolbox)
    chosen = []
    if settings.notify_order_placed:
        chosen.append(Subscriber("eskiz.order_placed", ("order.placed",), _sms_for))
    if settings.notify_payment_captured:
        chosen.append(Subscriber("eskiz.payment_captured", ("payment.captured",), _sms_for))
    if settings.notify_shipment_status:
        chosen.append(Subscriber("eskiz.shipment_status", ("shipment.status_changed",), _sms_for))
    return chosen

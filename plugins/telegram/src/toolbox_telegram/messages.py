"""The staff chat's messages, in Russian and Uzbek (plain text: nothing to escape)."""

from __future__ import annotations

from typing import Any

from toolbox_core.api import format_som

MAX_TEXT = 4096  # Bot API limit for sendMessage text

ORDER_PLACED = {
    "ru": "🛒 Новый заказ №{number}\nСумма: {total}\nТелефон: {phone}\nОплата: {payment}\nСтатус: {status}",
    "uz": "🛒 Yangi buyurtma №{number}\nSumma: {total}\nTelefon: {phone}\nTo'lov: {payment}\nHolati: {status}",
}

STATUS = {
    "ru": {"placed": "оформлен", "pending_payment": "ждёт оплаты"},
    "uz": {"placed": "rasmiylashtirildi", "pending_payment": "to'lov kutilmoqda"},
}


def order_placed_text(payload: dict[str, Any], locale: str) -> str:
    """The message for an ``order.placed`` event payload, in ``locale`` (ru when unknown)."""
    locale = locale if locale in ORDER_PLACED else "ru"
    status = str(payload.get("status") or "")
    text = ORDER_PLACED[locale].format(
        number=payload.get("number") or payload.get("order_id"),
        total=format_som(int(payload.get("total") or 0)),
        phone=payload.get("phone") or "—",
        payment=payload.get("payment_provider_id") or "—",
        status=STATUS[locale].get(status, status or "—"),
    )
    return text[:MAX_TEXT]

"""Customer-facing texts the kernel produces, per locale (``ru``, ``uz`` in Latin script).

* :data:`ERROR_MESSAGES` — the ``message`` of store-API errors shoppers see, by error ``code``
  (the code stays the stable English identifier). Each locale has one or more variants; the
  first whose ``{placeholders}`` the error's ``details`` all has is used. English is the
  message the kernel raised, so a store listing ``en`` among its locales gets it unchanged.
  Errors meant for the operator (``otp_sender_unavailable``: which setting to fix) stay English.
* :data:`SHIPPING_NAMES` — the kernel's shipping options (``checkout.pickup_shipping_name``,
  ``checkout.flat_shipping_name`` override them).
* SMS texts are notification templates: :data:`toolbox_core.notifications.templates.KERNEL_TEMPLATES`.

No imports of the kernel: ``config`` and ``errors`` read from here.
"""

from __future__ import annotations

from string import Formatter

#: A customer-facing text in settings: one string for every locale, or ``{"ru": ..., "uz": ...}``.
LocalizedText = str | dict[str, str]

SHIPPING_NAMES: dict[str, dict[str, str]] = {
    "pickup": {"ru": "Самовывоз из магазина", "uz": "Do'kondan olib ketish", "en": "Pickup from store"},
    "flat": {"ru": "Курьер", "uz": "Kuryer", "en": "Courier"},
}


def _texts(ru: str | tuple[str, ...], uz: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    def variants(value: str | tuple[str, ...]) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else value

    return {"ru": variants(ru), "uz": variants(uz)}


ERROR_MESSAGES: dict[str, dict[str, tuple[str, ...]]] = {
    # cart and checkout
    "out_of_stock": _texts(
        ("Недостаточно товара на складе: доступно {available} шт.", "Некоторых товаров недостаточно на складе"),
        ("Omborda yetarli emas: faqat {available} dona bor", "Ba'zi mahsulotlar omborda yetarli emas"),
    ),
    "cart_completed": _texts("Эта корзина уже оформлена; начните новую",
                             "Bu savat allaqachon rasmiylashtirilgan; yangisini boshlang"),
    "cart_expired": _texts("Срок действия корзины истёк; начните новую",
                           "Savatning muddati tugagan; yangisini boshlang"),
    "not_found": _texts("Не найдено", "Topilmadi"),
    "cart_not_found": _texts("Корзина не найдена", "Savat topilmadi"),
    "cart_forbidden": _texts("Эта корзина принадлежит другому покупателю", "Bu savat boshqa xaridorga tegishli"),
    "cart_empty": _texts("Сначала добавьте товары в корзину", "Avval savatga mahsulot qo'shing"),
    "cart_changed": _texts("Корзина изменилась, пока считалась доставка; попробуйте ещё раз",
                           "Yetkazib berish hisoblanayotganda savat o'zgardi; qayta urinib ko'ring"),
    "invalid_quantity": _texts("Количество должно быть не меньше 1", "Miqdor kamida 1 bo'lishi kerak"),
    "quantity_over_limit": _texts(("Не больше {max} шт. одного товара", "Слишком большое количество"),
                                  ("Bitta mahsulotdan ko'pi bilan {max} dona", "Miqdor juda katta")),
    "too_many_lines": _texts("В корзине слишком много разных товаров", "Savatda turli mahsulotlar juda ko'p"),
    "unknown_variant": _texts("Этого товара нет в продаже", "Bu mahsulot sotuvda yo'q"),
    "line_not_found": _texts("Этого товара нет в корзине", "Bu mahsulot savatda yo'q"),
    "item_unavailable": _texts("Некоторые товары больше не продаются; удалите их из корзины",
                               "Ba'zi mahsulotlar endi sotilmaydi; ularni savatdan olib tashlang"),
    "checkout_incomplete": _texts("Заполните все данные заказа: телефон, адрес, доставку и оплату",
                                  "Buyurtma ma'lumotlarini to'ldiring: telefon, manzil, yetkazib berish va to'lov"),
    "unknown_shipping_option": _texts("Этот способ доставки недоступен для корзины",
                                      "Bu yetkazib berish usuli savat uchun mavjud emas"),
    "unknown_shipping_provider": _texts("Этот способ доставки недоступен", "Bu yetkazib berish usuli mavjud emas"),
    "shipping_data_required": _texts("Для этого способа доставки выберите пункт выдачи",
                                     "Bu yetkazib berish usuli uchun topshirish punktini tanlang"),
    "invalid_shipping_data": _texts("Неверные данные для способа доставки",
                                    "Yetkazib berish usuli uchun ma'lumotlar noto'g'ri"),
    "shipping_unavailable": _texts("Служба доставки сейчас недоступна; попробуйте позже",
                                   "Yetkazib berish xizmati hozir ishlamayapti; keyinroq urinib ko'ring"),
    "unknown_payment_provider": _texts("Этот способ оплаты недоступен", "Bu to'lov usuli mavjud emas"),
    "order_not_found": _texts("Заказ не найден", "Buyurtma topilmadi"),
    # phone, sign-in codes
    "invalid_phone": _texts("Введите узбекский номер мобильного телефона: +998XXXXXXXXX",
                            "O'zbekiston mobil raqamini kiriting: +998XXXXXXXXX"),
    "invalid_code": _texts("Код неверный или устарел; проверьте его или запросите новый",
                           "Kod noto'g'ri yoki eskirgan; tekshiring yoki yangisini so'rang"),
    "too_many_attempts": _texts("Слишком много неверных кодов для этого номера; попробуйте позже",
                                "Bu raqam uchun noto'g'ri kodlar juda ko'p; keyinroq urinib ko'ring"),
    "otp_busy": _texts("Сейчас отправляется слишком много кодов; попробуйте через минуту",
                       "Hozir juda ko'p kod yuborilmoqda; bir daqiqadan keyin urinib ko'ring"),
    "verification_required": _texts("Сначала подтвердите номер телефона кодом из SMS",
                                    "Avval telefon raqamingizni SMS-kod bilan tasdiqlang"),
    "rate_limited": _texts(("Слишком много попыток; повторите через {retry_after} с", "Слишком много попыток; повторите позже"),
                           ("Urinishlar juda ko'p; {retry_after} soniyadan keyin qayta urinib ko'ring",
                            "Urinishlar juda ko'p; keyinroq qayta urinib ko'ring")),
    "otp_send_failed": _texts("Не удалось отправить код; попробуйте чуть позже",
                              "Kodni yuborib bo'lmadi; birozdan keyin qayta urinib ko'ring"),
    "not_signed_in": _texts("Войдите по номеру телефона", "Telefon raqamingiz orqali kiring"),
}


def _placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name)


#: The ``{placeholders}`` of every text of :data:`ERROR_MESSAGES`, parsed once at import (so an
#: error's message picks its variant without parsing templates per error).
ERROR_MESSAGE_FIELDS: dict[str, frozenset[str]] = {
    template: _placeholders(template)
    for locales in ERROR_MESSAGES.values() for variants in locales.values() for template in variants
}

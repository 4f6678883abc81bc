"""Merchant API error codes with the localized messages Payme shows to the payer (ru/uz/en)."""

from __future__ import annotations

from typing import Any

SYSTEM_ERROR = -32400
NOT_POST = -32300
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INSUFFICIENT_PRIVILEGES = -32504
WRONG_AMOUNT = -31001
TRANSACTION_NOT_FOUND = -31003
CANNOT_CANCEL = -31007
CANNOT_PERFORM = -31008
ORDER_NOT_FOUND = -31050
RECEIPT_NOT_FOUND = -32001

MESSAGES: dict[int, dict[str, str]] = {
    SYSTEM_ERROR: {"ru": "Системная ошибка", "uz": "Tizim xatosi", "en": "System error"},
    NOT_POST: {"ru": "Метод запроса не POST", "uz": "So'rov usuli POST emas", "en": "Request method is not POST"},
    PARSE_ERROR: {"ru": "Ошибка разбора JSON", "uz": "JSON tahlil xatosi", "en": "JSON parse error"},
    INVALID_REQUEST: {"ru": "Неверный запрос: отсутствуют обязательные поля или неверен их тип",
                      "uz": "Noto'g'ri so'rov: majburiy maydonlar yo'q yoki turi noto'g'ri",
                      "en": "Invalid request: required fields are missing or of the wrong type"},
    METHOD_NOT_FOUND: {"ru": "Метод не найден", "uz": "Usul topilmadi", "en": "Method not found"},
    INSUFFICIENT_PRIVILEGES: {"ru": "Недостаточно привилегий для выполнения метода",
                              "uz": "Usulni bajarish uchun huquqlar yetarli emas",
                              "en": "Insufficient privileges to execute the method"},
    WRONG_AMOUNT: {"ru": "Неверная сумма", "uz": "Noto'g'ri summa", "en": "Wrong amount"},
    TRANSACTION_NOT_FOUND: {"ru": "Транзакция не найдена", "uz": "Tranzaksiya topilmadi",
                            "en": "Transaction not found"},
    CANNOT_CANCEL: {"ru": "Заказ выполнен, отменить транзакцию невозможно",
                    "uz": "Buyurtma bajarilgan, tranzaksiyani bekor qilib bo'lmaydi",
                    "en": "The order is fulfilled; the transaction cannot be cancelled"},
    CANNOT_PERFORM: {"ru": "Невозможно выполнить операцию", "uz": "Amalni bajarib bo'lmaydi",
                     "en": "The operation cannot be performed"},
    ORDER_NOT_FOUND: {"ru": "Заказ не найден", "uz": "Buyurtma topilmadi", "en": "Order not found"},
    RECEIPT_NOT_FOUND: {"ru": "Чек не найден", "uz": "Chek topilmadi", "en": "Receipt not found"},
}


#: ChangePassword without a usable new key: the PHP template's code (-31050), with its own words.
BAD_PASSWORD_MESSAGE = {"ru": "Неверный новый пароль", "uz": "Yangi parol noto'g'ri", "en": "Invalid new password"}


class PaymeError(Exception):
    """A JSON-RPC error to answer (always with HTTP 200)."""

    def __init__(self, code: int, data: Any = None, message: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.data = data
        self.message = message or MESSAGES.get(code, MESSAGES[SYSTEM_ERROR])

    def body(self, request_id: Any) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": dict(self.message)}
        if self.data is not None:
            error["data"] = self.data
        return {"jsonrpc": "2.0", "error": error, "id": request_id}

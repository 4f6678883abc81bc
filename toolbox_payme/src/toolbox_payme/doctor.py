"""``toolbox doctor`` checks for Payme: keys, mode, tables, fiscal codes. No secret is printed."""

from __future__ import annotations

from toolbox_core.api import DoctorCheck, Toolbox, tables_check
from toolbox_payme.credentials import Credentials
from toolbox_payme.models import PaymeCredential, PaymeTransaction
from toolbox_payme.settings import PaymeSettings

KEY_LENGTH = 36  # Payme kassa keys are 36 characters


def checks(toolbox: Toolbox, settings: PaymeSettings) -> list[DoctorCheck]:
    result = [
        DoctorCheck("payme: mode", True,
                    "test mode (sandbox keys, test.paycom.uz)" if settings.test_mode
                    else "production (checkout.paycom.uz)"),
    ]
    credentials = Credentials(toolbox, settings)
    name = f"TOOLBOX_PAYME__{credentials.name.upper()}"
    key = credentials.configured()
    tables = tables_check(toolbox, "payme", PaymeTransaction, PaymeCredential)
    result.append(tables)
    if tables.ok:
        key = credentials.current()  # a key set by ChangePassword wins (else the configured one, checked below)
    if key is None:
        result.append(DoctorCheck("payme: key", False, f"no key for this mode: every call is refused (-32504); "
                                                       f"set {name}"))
    else:
        result.append(DoctorCheck("payme: key", len(key) == KEY_LENGTH,
                                  "the kassa key is set" if len(key) == KEY_LENGTH else
                                  f"the kassa key is {len(key)} characters, Payme issues {KEY_LENGTH}"))
    result.append(DoctorCheck("payme: callback", True,
                              f"set the endpoint URL in the kassa to https://<your host>{settings.callback_path}"))
    return result

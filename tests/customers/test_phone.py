"""Every phone the system sees becomes +998XXXXXXXXX, or is refused with a clear error."""

from __future__ import annotations

import pytest

from toolbox_core.customers.phone import InvalidPhone, normalize_phone, phone_email


@pytest.mark.parametrize(
    "raw",
    [
        "+998901234567",
        "998901234567",
        "+998 90 123-45-67",
        "+998 (90) 123-45-67",
        "90 123 45 67",
        "901234567",
        "8 90 1234567",
        "00998901234567",
        " +998.90.123.45.67 ",
        "\t998 90 123 45 67\n",
    ],
)
def test_accepted_forms_normalize_to_one_phone(raw):
    assert normalize_phone(raw) == "+998901234567"


@pytest.mark.parametrize("code", ["20", "33", "50", "55", "77", "88", "90", "91", "93", "94", "95", "97", "98", "99"])
def test_every_mobile_operator_code_is_accepted(code):
    assert normalize_phone(f"+998{code}1234567") == f"+998{code}1234567"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "+",
        "hello",
        "+998 90 123 45 6",          # too short
        "+998 90 123 45 678",        # too long
        "+998 71 123 45 67",         # Tashkent landline
        "+7 901 234 56 78",          # Russia
        "+8901234567",               # '+' must be followed by 998
        "0090 123 45 67",            # '00' must be followed by 998
        "+998 90 123 45 6x",
        "+998 ٩٠ ١٢٣ ٤٥ ٦٧",         # Arabic-Indic digits
        "+998９０１２３４５６７",        # full-width digits
        "+998 90 123 45 6²",         # superscript
        "+998+901234567",
        "9" * 200,
    ],
)
def test_anything_else_is_refused(raw):
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(raw)
    assert info.value.code == "invalid_phone"
    assert info.value.status == 422


@pytest.mark.parametrize("raw", [None, 998901234567, b"+998901234567"])
def test_non_strings_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_derived_email_is_the_same_for_every_form():
    assert phone_email("90 123 45 67") == phone_email("+998901234567") == "998901234567@phone.toolbox.local"

"""Money is an integer number of tiyin (1 so'm = 100 tiyin) everywhere; never a float."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

TIYIN_PER_SOM = 100
CURRENCY = "UZS"

#: A non-negative amount of tiyin, validated strictly (no floats, no strings).
Tiyin = Annotated[StrictInt, Field(ge=0, le=10**15, description="Amount in tiyin (1 so'm = 100 tiyin)")]


def som(amount: int) -> int:
    """Convert whole so'm to tiyin: ``som(12_000) == 1_200_000``."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("som() takes an integer number of so'm")
    return amount * TIYIN_PER_SOM


def format_som(tiyin: int) -> str:
    """Human-readable amount, e.g. ``format_som(1_250_050) == "12 500.50 so'm"``."""
    whole, frac = divmod(abs(tiyin), TIYIN_PER_SOM)
    sign = "-" if tiyin < 0 else ""
    grouped = f"{whole:,}".replace(",", " ")
    return f"{sign}{grouped}.{frac:02d} so'm" if frac else f"{sign}{grouped} so'm"

"""Locales: picking the right translation with a fallback that never yields an empty field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from toolbox_core.errors import InvalidInput


class Translated(Protocol):
    locale: str


T = TypeVar("T", bound=Translated)


def pick_translation(translations: Iterable[T], locale: str, default_locale: str) -> T | None:
    """The translation in ``locale``, else in ``default_locale``, else any (first by locale)."""
    by_locale = {t.locale: t for t in translations}
    if not by_locale:
        return None
    return by_locale.get(locale) or by_locale.get(default_locale) or by_locale[min(by_locale)]


def resolve_locale(requested: str | None, accept_language: str | None, supported: Sequence[str], default: str) -> str:
    """The locale for a request: ``?locale=`` (must be supported, else 422), then the first
    supported language of ``Accept-Language``, then ``default``."""
    if requested:
        value = requested.lower()
        if value not in supported:
            raise InvalidInput(
                f"unknown locale {requested!r}; supported: {', '.join(supported)}",
                code="unknown_locale",
                details={"supported": list(supported)},
            )
        return value
    if accept_language:
        for part in accept_language.split(","):
            tag = part.split(";", 1)[0].strip().lower()
            for candidate in (tag, tag.split("-", 1)[0]):
                if candidate in supported:
                    return candidate
    return default

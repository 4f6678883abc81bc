"""The template registry: message texts per template name and locale (``ru``, ``uz``).

Texts come from three places, later ones winning: the kernel's defaults (the sign-in code),
the ``notification_templates`` hook of every enabled plugin, and the ``notifications.templates``
settings (``TOOLBOX_NOTIFICATIONS__TEMPLATES='{"order.placed": {"ru": "..."}}'`` or
``[notifications.templates."order.placed"]`` in ``toolbox.toml``), so a store can use the exact
texts its SMS gateway approved. Placeholders are ``{name}``; one the data lacks stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The template the kernel renders for sign-in codes: data ``code`` and ``minutes``.
OTP_TEMPLATE = "auth.otp_code"

KERNEL_TEMPLATES: dict[str, dict[str, str]] = {
    OTP_TEMPLATE: {
        "ru": "Код для входа: {code}. Никому его не сообщайте. Действует {minutes} мин.",
        "uz": "Kirish kodi: {code}. Uni hech kimga aytmang. {minutes} daqiqa amal qiladi.",
        "en": "Sign-in code: {code}. Do not share it with anyone. Valid for {minutes} min.",
    },
}


@dataclass(frozen=True)
class NotificationTemplate:
    """A message template: ``texts`` maps a locale to its text with ``{placeholders}``."""

    name: str
    texts: dict[str, str]
    description: str = ""
    #: The placeholders the text may use, documented for operators writing their own texts.
    fields: tuple[str, ...] = field(default_factory=tuple)


class _KeepMissing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class TemplateRegistry:
    """``toolbox.templates``: look up and render texts by template name and locale."""

    def __init__(self, default_locale: str = "ru") -> None:
        self.default_locale = default_locale
        self._texts: dict[str, dict[str, str]] = {}
        self._templates: dict[str, NotificationTemplate] = {}

    def register(self, template: NotificationTemplate) -> None:
        """Add ``template``; texts for a locale already present are replaced."""
        self._templates.setdefault(template.name, template)
        self._texts.setdefault(template.name, {}).update(template.texts)

    def override(self, texts: Mapping[str, Mapping[str, str]]) -> None:
        """Replace texts per template and locale (from settings)."""
        for name, by_locale in texts.items():
            if name not in self._templates:
                self._templates[name] = NotificationTemplate(name, dict(by_locale))
            self._texts.setdefault(name, {}).update(by_locale)

    def names(self) -> list[str]:
        return sorted(self._templates)

    def __contains__(self, name: object) -> bool:
        return name in self._texts

    def text(self, name: str, locale: str) -> str:
        """The raw text of ``name`` in ``locale`` (the default locale, then any, when missing).

        Raises :class:`KeyError` for an unknown template.
        """
        texts = self._texts[name]
        for candidate in (locale, self.default_locale):
            if candidate in texts:
                return texts[candidate]
        return next(iter(texts.values()))

    def render(self, name: str, locale: str, data: Mapping[str, Any] | None = None) -> str:
        """The text of ``name`` in ``locale`` with ``{placeholders}`` filled from ``data``."""
        return self.text(name, locale).format_map(_KeepMissing(data or {}))


def build_registry(default_locale: str, plugin_templates: Iterable[NotificationTemplate],
                   overrides: Mapping[str, Mapping[str, str]]) -> TemplateRegistry:
    """Kernel defaults, then plugins' templates, then the settings' texts."""
    registry = TemplateRegistry(default_locale)
    for name, texts in KERNEL_TEMPLATES.items():
        registry.register(NotificationTemplate(name, dict(texts), "Sign-in code SMS", ("code", "minutes")))
    for template in plugin_templates:
        registry.register(template)
    registry.override(overrides)
    return registry

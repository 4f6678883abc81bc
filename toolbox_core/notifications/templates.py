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
from string import Formatter
from typing import Any

#: Longest text a template may have (a few SMS parts; channels split or refuse longer ones).
MAX_TEMPLATE_CHARS = 2000

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


def check_template_text(text: str) -> None:
    """Raise ``ValueError`` (saying what is wrong) unless ``text`` renders with any data.

    Placeholders are plain names (``{number}``); an unclosed brace, a positional ``{}``, an
    attribute or index (``{order.total}``, ``{lines[0]}``) or a conversion would fail at every
    render, so they are refused when the text is loaded, not when the first SMS is due.
    Literal braces are written twice (``{{`` and ``}}``).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a template text must be a non-empty string")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"a template text has at most {MAX_TEMPLATE_CHARS} characters")
    try:
        parts = list(Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{exc} in {text!r} (write literal braces as {{{{ and }}}})") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} in {text!r} must be a plain name like {{number}}")
        if conversion or (spec and "{" in spec):
            raise ValueError(f"placeholder {{{name}}} in {text!r} takes no conversion or nested field")


def check_templates(texts: Mapping[str, Mapping[str, str]]) -> None:
    """:func:`check_template_text` for every text of ``{template: {locale: text}}``, naming the bad one."""
    for name, by_locale in texts.items():
        for locale, text in by_locale.items():
            try:
                check_template_text(text)
            except ValueError as exc:
                raise ValueError(f"template {name!r} ({locale}): {exc}") from None


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
        """Add ``template``; texts for a locale already present are replaced.

        Raises ``ValueError`` for a text that could not render (see :func:`check_template_text`).
        """
        check_templates({template.name: template.texts})
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

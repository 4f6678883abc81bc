"""Locales: the one rule that picks a request's locale, and per-locale texts with fallbacks.

The rule (README, "HTTP API"), used by every localized store route through :func:`request_locale`
(or :func:`request_locale_context`) and by the error handler:

1. ``?locale=`` — tolerant of region and script subtags (``uz-Latn``, ``uz_UZ``, ``ru-RU`` → the
   store's ``uz``/``ru``); a language the store does not have at all is a 422 ``unknown_locale``
   listing the supported ones (an explicit choice that cannot be honoured is a storefront bug);
2. the cart's locale, on cart-scoped routes;
3. ``Accept-Language`` — q-values honoured, ``q=0`` and ``*`` skipped, unknown languages skipped;
4. the store's ``default_locale``.

Tags are matched by RFC 4647 "lookup": the full tag first, then with the last subtag dropped,
so ``uz-Cyrl`` means a store locale ``uz-cyrl`` when one is configured, else ``uz`` (the store's
Uzbek texts, whatever their script).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from string import Formatter
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Header, Query, Request
from starlette.datastructures import QueryParams

from toolbox_core.errors import InvalidInput
from toolbox_core.texts import ERROR_MESSAGE_FIELDS, ERROR_MESSAGES, LocalizedText


class Translated(Protocol):
    locale: str


T = TypeVar("T", bound=Translated)

_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")
#: Parts of ``Accept-Language`` looked at (a browser sends a handful; the header is bounded anyway).
_MAX_RANGES = 20


def pick_translation(translations: Iterable[T], locale: str, default_locale: str) -> T | None:
    """The translation in ``locale``, else in ``default_locale``, else any (first by locale)."""
    by_locale = {t.locale: t for t in translations}
    if not by_locale:
        return None
    return by_locale.get(locale) or by_locale.get(default_locale) or by_locale[min(by_locale)]


def localized_text(texts: LocalizedText, locale: str, default_locale: str) -> str:
    """``texts`` in ``locale``: a plain string is every locale's; a mapping falls back to the
    default locale, then to its first text."""
    if isinstance(texts, str):
        return texts
    return texts.get(locale) or texts.get(default_locale) or next(iter(texts.values()), "")


# ------------------------------------------------------------------------------ matching
def match_locale(tag: str, supported: Sequence[str]) -> str | None:
    """The supported locale for a language tag by RFC 4647 lookup (``uz-Latn-UZ`` → ``uz``), or ``None``."""
    if not _TAG.match(tag):
        return None
    known = {s.lower(): s for s in supported}
    parts = tag.replace("_", "-").lower().split("-")
    while parts:
        candidate = "-".join(parts)
        if candidate in known:
            return known[candidate]
        parts.pop()
    return None


def accept_language(header: str | None) -> list[str]:
    """The language tags of an ``Accept-Language`` header, most wanted first (``q=0`` and ``*`` left out)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:_MAX_RANGES]):
        tag, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(header: str | None, supported: Sequence[str]) -> str | None:
    """The first supported locale the ``Accept-Language`` header asks for, or ``None``."""
    for tag in accept_language(header):
        found = match_locale(tag, supported)
        if found:
            return found
    return None


@lru_cache(maxsize=1024)
def _negotiated(header: str | None, supported: tuple[str, ...]) -> str | None:
    """:func:`negotiate`, remembered: a store sees a few distinct ``Accept-Language`` values."""
    return negotiate(header, supported)


def parse_locale(value: str, supported: Sequence[str]) -> str:
    """An explicit locale (``?locale=``, a body's ``locale``): tolerant of subtags; 422 when unknown."""
    found = match_locale(value.strip(), supported)
    if found is None:
        raise InvalidInput(
            f"unknown locale {value!r}; supported: {', '.join(supported)}",
            code="unknown_locale",
            details={"supported": list(supported)},
        )
    return found


def resolve_locale(requested: str | None, accept_language: str | None, supported: Sequence[str], default: str,
                   scoped: str | None = None) -> str:
    """The locale by the one rule, outside a request: ``requested``, then ``scoped`` (a cart's),
    then the ``Accept-Language`` header, then ``default`` (routes use :func:`request_locale`)."""
    if requested:
        return parse_locale(requested, supported)
    if scoped and scoped in supported:
        return scoped
    return negotiate(accept_language, supported) or default


# ------------------------------------------------------------------------------ requests
@dataclass
class RequestLocale:
    """What a request says about its locale; :meth:`resolve` applies the rule.

    ``scoped`` is the cart's locale once the cart is loaded (:func:`cart_locale`).
    """

    explicit: str | None
    negotiated: str | None
    default: str
    supported: tuple[str, ...]
    scoped: str | None = None

    def resolve(self) -> str:
        return self.explicit or self.scoped or self.negotiated or self.default

    def choose(self, value: str | None) -> str:
        """The locale for an explicit ``value`` from a body (tolerant; 422 when unknown), which
        then wins for the whole request; without one, :meth:`resolve`."""
        if value:
            self.explicit = parse_locale(value, self.supported)
        return self.resolve()


_current: ContextVar[RequestLocale | None] = ContextVar("toolbox_request_locale", default=None)

#: The longest ``?locale=`` and ``Accept-Language`` accepted (longer: 422 ``invalid_input``).
LOCALE_MAX_LENGTH, ACCEPT_LANGUAGE_MAX_LENGTH = 35, 500
LocaleQ = Annotated[str | None, Query(max_length=LOCALE_MAX_LENGTH, description=(
    "Locale (ru, uz; uz-Latn, ru-RU accepted); else the cart's; else Accept-Language; else the store default"))]
AcceptLanguage = Annotated[str | None, Header(max_length=ACCEPT_LANGUAGE_MAX_LENGTH)]


def _settings(request: Request) -> Any:
    return request.app.state.toolbox.settings


def locale_context(request: Request, locale: str | None, accept_language: str | None, *, strict: bool = True) -> RequestLocale:
    """The request's :class:`RequestLocale` (kept on ``request.state.locale``); ``strict``: an
    unknown ``?locale=`` is a 422, else it is ignored (the error handler's use)."""
    existing = getattr(request.state, "locale", None)
    if isinstance(existing, RequestLocale):
        return existing
    settings = _settings(request)
    explicit = None
    if locale:
        explicit = parse_locale(locale, settings.locales) if strict else match_locale(locale, settings.locales)
    supported = tuple(settings.locales)
    ctx = RequestLocale(explicit, _negotiated(accept_language, supported), settings.default_locale, supported)
    request.state.locale = ctx
    _current.set(ctx)
    return ctx


def _request_context(request: Request, *, strict: bool = True) -> RequestLocale:
    """The request's :class:`RequestLocale` from its ``?locale=`` and ``Accept-Language`` as
    sent (what FastAPI passes for ``LocaleQ`` and ``AcceptLanguage``: the last ``locale``, the
    first header)."""
    existing = getattr(request.state, "locale", None)
    if isinstance(existing, RequestLocale):
        return existing
    return locale_context(request, request.query_params.get("locale"), request.headers.get("accept-language"),
                          strict=strict)


def locale_params_valid(scope: Mapping[str, Any]) -> bool:
    """True when a request's ``?locale=`` and ``Accept-Language`` are within the lengths
    ``LocaleQ`` and ``AcceptLanguage`` declare, so FastAPI's validation of them would pass.

    The app (``toolbox_core.app._route_app``) then calls the locale dependencies without
    FastAPI solving those two parameters (they read them from the request, as they are);
    otherwise FastAPI validates them as declared and answers its 422.
    """
    for key, value in scope["headers"]:
        if key == b"accept-language":
            if len(value) > ACCEPT_LANGUAGE_MAX_LENGTH:
                return False
            break
    query: bytes = scope.get("query_string", b"")
    if b"locale" in query or b"%" in query:  # (%6Cocale is a "locale" too)
        value = QueryParams(query).get("locale")
        return value is None or len(value) <= LOCALE_MAX_LENGTH
    return True


async def request_locale(request: Request, locale: LocaleQ = None, accept_language: AcceptLanguage = None) -> str:
    """Dependency of every localized route: the request's locale by the one rule.

    The answer then carries ``Content-Language`` and ``Vary: Accept-Language``
    (:func:`add_locale_headers`). Async, so the services the route calls see it. ``locale``
    and ``accept_language`` declare the parameters (OpenAPI, validation); their values are
    read from the request (see :func:`locale_params_valid`).
    """
    return _request_context(request).resolve()


async def request_locale_context(request: Request, locale: LocaleQ = None,
                                 accept_language: AcceptLanguage = None) -> RequestLocale:
    """Dependency: the request's :class:`RequestLocale`, for routes that take a locale in their
    body too (:meth:`RequestLocale.choose`) or are cart-scoped (the cart's locale, noted when the
    service loads the cart, ranks above ``Accept-Language``). Parameters as :func:`request_locale`'s."""
    return _request_context(request)


Dependency = TypeVar("Dependency", bound=Callable[..., Any])

#: Dependencies that read their declared query and header parameters from the request
#: themselves, with the check that FastAPI's validation of those would pass.
REQUEST_READ_DEPENDENCIES: dict[Callable[..., Any], Callable[[Mapping[str, Any]], bool]] = {
    request_locale: locale_params_valid, request_locale_context: locale_params_valid}


def reads_locale_params(dependency: Dependency) -> Dependency:
    """Decorator for a dependency that also stands for :func:`request_locale_context` (it declares
    ``locale: LocaleQ = None, accept_language: AcceptLanguage = None`` and awaits
    ``request_locale_context(request)`` first): one dependency where a route would solve two.
    Its two locale parameters are then read from the request as that one's are (see
    :data:`REQUEST_READ_DEPENDENCIES`)."""
    REQUEST_READ_DEPENDENCIES[dependency] = locale_params_valid
    return dependency


def cart_locale(stored: str) -> str:
    """The locale of this request's answer about a cart whose locale is ``stored``: ``?locale=``
    wins, else ``stored``, which from then on also ranks above ``Accept-Language`` for the
    request's error messages and ``Content-Language``. Outside a request, ``stored``."""
    ctx = _current.get()
    if ctx is None:
        return stored
    ctx.scoped = stored
    return ctx.resolve()


def add_locale_headers(state: Mapping[str, Any], headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response headers with ``Vary: Accept-Language`` and ``Content-Language`` when the
    request's locale was resolved (``state["locale"]``: a localized route, or a shopper's
    error); ``headers`` unchanged otherwise. ``Content-Language`` is the body's language: the
    request's locale, or an error message's (``state["message_locale"]``, ``en`` when the
    error has no text in that locale).

    ``Vary`` ends as one header listing every value once (the others', e.g. CORS's ``Origin``,
    kept); a route's own ``Content-Language`` wins.
    """
    ctx = state.get("locale")
    if not isinstance(ctx, RequestLocale):
        return headers
    out: list[tuple[bytes, bytes]] = []
    vary: list[str] = []
    has_language = False
    for key, value in headers:
        name = key.lower()
        if name == b"vary":
            vary.extend(v.strip() for v in value.decode("latin-1").split(",") if v.strip())
            continue
        if name == b"content-language":
            has_language = True
        out.append((key, value))
    out.append((b"vary", merge_vary(vary, "Accept-Language").encode("latin-1")))
    if not has_language:
        # An error's message may be left in English (no text in this locale): say so.
        language = state.get("message_locale") or ctx.resolve()
        out.append((b"content-language", language.encode("latin-1")))
    return out


def merge_vary(values: Sequence[str], add: str) -> str:
    """One ``Vary`` value: ``values`` and ``add``, each once (case-insensitive), in order; ``*``
    alone when any is ``*`` (it already means every header)."""
    seen: dict[str, str] = {}
    for value in [*values, add]:
        seen.setdefault(value.lower(), value)
    return "*" if "*" in seen else ", ".join(seen.values())


# ------------------------------------------------------------------------------ messages
def _fields(template: str) -> frozenset[str]:
    """The ``{placeholders}`` of ``template``: parsed at import for the kernel's texts."""
    known = ERROR_MESSAGE_FIELDS.get(template)
    return known if known is not None else frozenset(name for _, name, _, _ in Formatter().parse(template) if name)


def render_message(variants: Sequence[str], details: Any) -> str | None:
    """The first of ``variants`` whose ``{placeholders}`` ``details`` all has, filled in."""
    values = details if isinstance(details, Mapping) else {}
    for template in variants:
        if _fields(template) <= values.keys():
            return template.format_map(values)
    return None


def localize_error(request: Request, code: str, message: str, details: Any) -> str:
    """The shopper-facing ``message`` of an error ``code`` in the request's locale.

    Texts come from :data:`toolbox_core.texts.ERROR_MESSAGES`; a code without a text in that
    locale keeps its English message. Only shoppers' requests are translated: the store API
    (``/store/…``) and routes that resolved a locale; the admin API and gateway callbacks stay
    English. The locale is the request's by the one rule (an unknown ``?locale=`` is ignored
    here: it may be the very error being answered).
    """
    texts = ERROR_MESSAGES.get(code)
    toolbox = getattr(request.app.state, "toolbox", None)
    # scope["path"] starts as request.url.path does (the URL only escapes ?, # and \).
    shopper = (request.scope["path"].startswith("/store/")
               or isinstance(getattr(request.state, "locale", None), RequestLocale))
    if toolbox is None or not shopper:
        return message
    if not texts:
        return message  # English: the error's answer says so (errors._answer)
    ctx = _request_context(request, strict=False)
    variants = texts.get(ctx.resolve())
    translated = render_message(variants, details) if variants else None
    # Content-Language names the language the body is in: the English message when untranslated.
    request.state.message_locale = ctx.resolve() if translated else "en"
    return translated or message

"""Request body limits, enforced in ASGI before anything parses or authenticates a request
(by :class:`~toolbox_core.app.RequestMiddleware`, with :func:`declared_length_problem` and
:func:`limited_receive`).

A body announced larger than the limit (``Content-Length``) is answered 413 at once without
reading it; a body streamed without a length is counted as it arrives and cut off with a 413 as
soon as it passes the limit. JSON and every other body get ``http.max_body_bytes``;
``multipart/form-data`` (image uploads) gets ``storage.max_upload_bytes`` plus room for the
form's own framing.

A JSON or form body that carries a NUL character (JSON's ``\u0000`` escape, a form's ``%00``)
is refused as it streams in (422, :data:`NUL_MESSAGE`), on every database alike: PostgreSQL
text cannot hold one (it refuses it with the same answer), and SQLite would store it.
"""

from __future__ import annotations

import re

from fastapi import HTTPException, Request
from starlette.responses import Response
from starlette.types import Message, Receive

from toolbox_core.config import Settings
from toolbox_core.errors import NUL_MESSAGE, PayloadTooLarge, error_response

#: Bytes a multipart form needs around its file (boundaries, part headers, a few text fields).
MULTIPART_OVERHEAD = 64 * 1024


def body_limit(settings: Settings, content_type: str) -> int:
    """The largest body accepted for a request of ``content_type``."""
    if content_type and content_type.split(";")[0].strip().lower() == "multipart/form-data":
        return settings.storage.max_upload_bytes + MULTIPART_OVERHEAD
    return settings.http.max_body_bytes


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit.

    An ``HTTPException`` passes through FastAPI's body parsing untouched (anything else becomes
    a 400 "error parsing the body") and the app's handler answers it in the one error shape.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))
        self.details = {"max_bytes": limit}


def too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes; send less (uploads: one image per request)"


def declared_length_problem(limit: int, declared: bytes | None, request_id: str | None) -> Response | None:
    """The answer to a ``Content-Length`` that is not a number (400) or over ``limit`` (413,
    ``Connection: close``: the body is not read), or ``None`` when the body may be read."""
    if declared is None:
        return None
    text = declared.decode("latin-1").strip()
    if not text.isdigit() or len(text) > 18:
        return error_response(400, "bad_request", "the Content-Length header is not a number", request_id=request_id)
    if int(text) > limit:
        return error_response(413, "payload_too_large", too_large_message(limit), {"max_bytes": limit},
                              request_id=request_id, headers={"Connection": "close"})
    return None


#: A NUL in a JSON text: the escape ``\u0000`` (not ``\\u0000``, an escaped backslash and the
#: letters) or a raw 0 byte.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000|\x00")
_FORM_NUL = re.compile(rb"%00|\x00")
#: Bytes of the previous chunk scanned again with the next one (a NUL split between chunks).
_NUL_OVERLAP = 64


class BodyHasNul(HTTPException):
    """Raised from ``receive`` when a JSON or form body carries a NUL character (422)."""

    def __init__(self) -> None:
        super().__init__(422, NUL_MESSAGE)


def nul_pattern(content_type: str) -> re.Pattern[bytes] | None:
    """What a NUL looks like in a body of ``content_type`` (``None``: not looked for, e.g. an upload)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return _JSON_NUL
    if kind == "application/x-www-form-urlencoded":
        return _FORM_NUL
    return None


def limited_receive(receive: Receive, limit: int, nul: re.Pattern[bytes] | None = None) -> Receive:
    """``receive`` that raises :class:`BodyTooLarge` once the body streamed passes ``limit``, and
    with ``nul`` (:func:`nul_pattern`) :class:`BodyHasNul` when the body carries a NUL."""
    received = 0
    tail = b""

    async def counting_receive() -> Message:
        nonlocal received, tail
        message = await receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            received += len(body)
            if received > limit:
                raise BodyTooLarge(limit)
            if nul is not None and body:
                window = tail + body
                if any(found.end() > len(tail) for found in nul.finditer(window)):
                    raise BodyHasNul()
                tail = window[-_NUL_OVERLAP:]
        return message

    return counting_receive


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read only up to ``limit`` bytes: a route's own, smaller limit.

    A larger body (announced by ``Content-Length`` or streamed) raises
    :class:`~toolbox_core.errors.PayloadTooLarge` (413 ``payload_too_large``) as soon as it is
    known, without buffering the rest. For webhook and callback routes whose bodies are small;
    the app-wide limit above still applies first.
    """
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large_message(limit), details={"max_bytes": limit})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(too_large_message(limit), details={"max_bytes": limit})
    data = bytes(body)
    request._body = data  # what Request.body() caches, so request.form() / .json() still work
    return data

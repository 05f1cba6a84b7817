"""What every HTTP request goes through before a handler sees it: a bounded body (413 past it, chunked
bodies too), a request id that is safe to log and echo, and the CallSid in the logs only once the
request is known to come from Twilio (`bind_call_sid`, called by the signature check)."""

from __future__ import annotations

import re
import uuid
from typing import IO, Any, Final

from flask import Flask, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.logs import call_sid_var, request_id_var

# What proxies and tracing systems send (nginx's $request_id, UUIDs, W3C trace ids, Heroku's ids):
# letters, digits and a few separators. Anything else, or longer, is replaced by our own id.
REQUEST_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=-]{0,127}")

# Form fields beyond what any webhook sends; only multipart bodies count parts (Werkzeug), and the
# Twilio routes refuse multipart anyway.
MAX_FORM_PARTS: Final = 200


def request_id(given: str | None) -> str:
    """The caller's X-Request-Id when it is a sane id, else a new one."""
    if given and REQUEST_ID_PATTERN.fullmatch(given):
        return given
    return uuid.uuid4().hex


def install(app: Flask, max_body_bytes: int) -> None:
    """Limits and per-request context on `app`."""
    # Werkzeug refuses a larger Content-Length before reading, and stops a chunked body at the limit.
    app.config.update(
        MAX_CONTENT_LENGTH=max_body_bytes,
        MAX_FORM_MEMORY_SIZE=max_body_bytes,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
    )

    @app.before_request
    def _bind_request_id() -> None:
        g.request_id = request_id(request.headers.get("X-Request-Id"))
        g._request_id_token = request_id_var.set(g.request_id)

    @app.before_request
    def _bound_chunked_body() -> None:
        if request.content_length is None and request.environ.get("wsgi.input_terminated"):
            request.environ["wsgi.input"] = ChunkedBody(request.environ["wsgi.input"], max_body_bytes)

    @app.after_request
    def _echo_request_id(response: Any) -> Any:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        call_sid_token = g.pop("_call_sid_token", None)
        if call_sid_token is not None:
            call_sid_var.reset(call_sid_token)
        request_id_token = g.pop("_request_id_token", None)
        if request_id_token is not None:
            request_id_var.reset(request_id_token)


def bind_call_sid(call_sid: str | None) -> None:
    """Put the request's CallSid into every log line from now on (after the signature check: an
    unsigned request's CallSid is whatever its sender wrote)."""
    g._call_sid_token = call_sid_var.set(call_sid or None)


class ChunkedBody:
    """A chunked request body (its length unknown until it ends) that raises 413 when it goes on past
    `limit` bytes. Werkzeug stops reading a chunked body at MAX_CONTENT_LENGTH, but silently: the
    handler would see the first `limit` bytes as if they were the whole body."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._left = limit

    def read(self, size: int | None = -1) -> bytes:
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(want) if want > 0 else b""
        self._left -= len(data)
        if self._left <= 0 and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data

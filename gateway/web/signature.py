"""`X-Twilio-Signature` on every webhook, checked with twilio's `RequestValidator`.

Twilio signs the URL it called. Behind a TLS-terminating proxy our request URL says http://internal:8000,
so the URL is rebuilt from PUBLIC_BASE_URL (or from the X-Forwarded-* headers of TRUSTED_PROXY_COUNT
proxies, applied by ProxyFix). A forged, unsigned or wrongly signed request gets 403 and reaches no
handler, so it changes nothing.

The body is read as late as possible: a request without a signature is refused from its headers
alone, a body that is not a form (Twilio only ever posts forms) gets 415 unread, and the form read to
check the signature is bounded by MAX_CONTENT_LENGTH (413). Only then is the CallSid bound to the logs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from flask import Response, request
from twilio.request_validator import RequestValidator, add_port, compare, remove_port

from gateway.web.context import settings
from gateway.web.edge import bind_call_sid

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"


def public_url() -> str:
    """The URL Twilio called, as Twilio saw it."""
    base = settings().public_base_url
    if base is None:
        return request.url
    query = request.query_string.decode()
    return base + request.path + (f"?{query}" if query else "")


def is_signed_by_twilio() -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(settings().signature_token)
    params = request.form if request.mimetype == FORM else {}
    return signature_matches(validator, public_url(), params, signature)


def signature_matches(validator: RequestValidator, url: str, params: Any, signature: str) -> bool:
    """`RequestValidator.validate` for a form: the URL without its port, then with it (Twilio signs
    either), but the second HMAC only when the first does not match (`validate` always computes
    both: a third of the signature check on every webhook)."""
    parsed = urlparse(url)
    return any(
        compare(validator.compute_signature(candidate, params), signature)
        for candidate in (remove_port(parsed), add_port(parsed))
    )


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        refusal = _refusal()
        if refusal is not None:
            return refusal
        bind_call_sid(request.form.get("CallSid"))
        return view(*args, **kwargs)

    return checked


def _refusal() -> Response | None:
    """Why this request may not reach the handler, or None. Cheap checks on the headers come first."""
    skip = settings().deflect_skip_signature_check
    if skip:
        log.warning("signature NOT checked (DEFLECT_SKIP_SIGNATURE_CHECK)")
    elif not request.headers.get("X-Twilio-Signature"):
        return _forged("refused a webhook without a Twilio signature")
    if request.method == "POST" and request.mimetype != FORM:
        # A multipart or JSON body would be checked as if it had no parameters: a signature made for
        # the URL alone would pass with any body.
        return Response(f"Twilio webhooks are {FORM}\n", status=415, mimetype="text/plain")
    if not skip and not is_signed_by_twilio():  # reads the form: 413 past MAX_CONTENT_LENGTH
        return _forged("refused a webhook without a valid Twilio signature")
    return None


def _forged(message: str) -> Response:
    log.warning(message, extra={"url": public_url(), "remote": request.remote_addr})
    return Response("invalid Twilio signature\n", status=403, mimetype="text/plain")

"""`X-Twilio-Signature` on every webhook, checked with twilio's `RequestValidator`.

Twilio signs the URL it called. Behind a TLS-terminating proxy our request URL says http://internal:8000,
so the URL is rebuilt from PUBLIC_BASE_URL (or from the X-Forwarded-* headers of TRUSTED_PROXY_COUNT
proxies, applied by ProxyFix). A forged, unsigned or wrongly signed request gets 403 and reaches no
handler, so it changes nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, abort, request
from twilio.request_validator import RequestValidator

from gateway.app import settings

log = logging.getLogger(__name__)


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
    params = request.form if request.mimetype == "application/x-www-form-urlencoded" else {}
    return bool(validator.validate(public_url(), params, signature))


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if settings().deflect_skip_signature_check:
            log.warning("signature NOT checked (DEFLECT_SKIP_SIGNATURE_CHECK)")
        elif not is_signed_by_twilio():
            log.warning(
                "refused a webhook without a valid Twilio signature",
                extra={"url": public_url(), "remote": request.remote_addr},
            )
            abort(Response("invalid Twilio signature\n", status=403, mimetype="text/plain"))
        return view(*args, **kwargs)

    return checked

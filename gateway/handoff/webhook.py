"""The signed webhook adapter: the chat and the call's story are POSTed as JSON to a desk or CRM, signed
with HMAC-SHA256 over the timestamp and the body, so the receiver knows it came from us and is fresh.

One attempt per call (the hand-off job retries); `Idempotency-Key` is the same for every attempt of one
hand-off, so a receiver that saw the first attempt can drop the retry. `verify_signature` is what a
receiver (and our tests) use to check a request; docs/handoff.md shows a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import requests

from gateway.clock import Clock, SystemClock
from gateway.handoff.base import Delivered, HandoffError, HandoffPayload

log = logging.getLogger(__name__)

EVENT = "chat.handoff"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300
# Worth another try: the receiver is slow, busy or restarting. Any other 4xx means the request itself
# is refused (bad URL, wrong secret, schema), and sending it again will not change the answer.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
MAX_EXTERNAL_ID = 80  # handoffs.external_id
MAX_ERROR_SNIPPET = 200


def _user_agent() -> str:
    try:
        return f"deflect-gateway/{version('deflect-gateway')}"
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "deflect-gateway/0+unknown"


USER_AGENT = _user_agent()


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The `X-Signature` value: `sha256=` + hex HMAC-SHA256 of `"<timestamp>." + body`."""
    mac = hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: int | str | None,
    body: bytes,
    header: str | None,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when `header` (X-Signature) signs `body` at `timestamp` (X-Timestamp) with `secret`, and the
    timestamp is within `tolerance` seconds of `now` (either way: clocks drift). Constant-time compare.

    Pass the raw request body, byte for byte: a body parsed and serialized again will not verify.
    """
    if not timestamp or not header:
        return False
    try:
        stamp = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False  # a replay of an old request, or a clock far off
    expected = sign(secret, stamp, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def handoff_body(payload: HandoffPayload) -> bytes:
    """The request body, serialized once: the payload, its summary and the event name (compact UTF-8)."""
    document = {"event": EVENT, **payload.to_json(), "summary": payload.summary()}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookAdapter:
    """POSTs each hand-off to `url`, signed with `secret`.

    `session` is a `requests.Session` (one is made when None; pass your own for proxies or custom CA
    bundles); `clock` gives the time for `X-Timestamp` (the process's one clock).
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"webhook URL must be http:// or https://, got {url!r}")
        if not secret:
            raise ValueError("webhook secret must not be empty: receivers could not trust the requests")
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.session = session or requests.Session()
        self.clock = clock or SystemClock()

    def headers(self, payload: HandoffPayload, body: bytes) -> dict[str, str]:
        """The request headers for `body`, signed now."""
        timestamp = int(self.clock.time())
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Timestamp": str(timestamp),
            "X-Signature": sign(self.secret, timestamp, body),
            "X-Handoff-Id": str(payload.handoff_id),
            "Idempotency-Key": f"handoff-{payload.handoff_id}",
        }

    def deliver(self, payload: HandoffPayload) -> Delivered:
        """One POST. 2xx: delivered (with the receiver's `id`, if it sends one). Raises HandoffError,
        permanent for a refusal (4xx other than 408/425/429, or a redirect), transient otherwise."""
        body = handoff_body(payload)
        try:
            response = self.session.post(
                self.url,
                data=body,
                headers=self.headers(payload, body),
                timeout=self.timeout,
                allow_redirects=False,  # a redirected POST may become a GET; the URL must be the real one
            )
        except requests.Timeout as exc:
            raise HandoffError(f"webhook timed out after {self.timeout:g}s") from exc
        except requests.RequestException as exc:
            raise HandoffError(f"webhook unreachable: {exc.__class__.__name__}") from exc
        with response:
            return self._outcome(payload, response)

    def _outcome(self, payload: HandoffPayload, response: requests.Response) -> Delivered:
        status = response.status_code
        if 200 <= status < 300:
            external_id = _response_id(response)
            log.info("hand-off %d delivered to webhook (id %s)", payload.handoff_id, external_id)
            return Delivered(external_id=external_id)
        message, detail = f"webhook answered {status}", _snippet(response) or None
        if status >= 500 or status in TRANSIENT_STATUSES:
            raise HandoffError(message, detail=detail)
        raise HandoffError(message, permanent=True, detail=detail)


def _response_id(response: requests.Response) -> str | None:
    """The receiver's id for the chat, from a JSON body like {"id": "T-123"}; None if there is none."""
    if not response.content:
        return None
    try:
        data: Any = response.json()
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)[:MAX_EXTERNAL_ID]


def _snippet(response: requests.Response) -> str:
    """The start of an error body, for the dead-letter list (receivers often say why they refused)."""
    try:
        text = response.text.strip()
    except Exception:  # an undecodable body must not hide the status
        return ""
    text = " ".join(text.split())
    return text[:MAX_ERROR_SNIPPET] + "…" if len(text) > MAX_ERROR_SNIPPET else text

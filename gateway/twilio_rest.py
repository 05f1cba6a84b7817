"""The real `twilio` REST client, pointed at Twilio or at a mock of Twilio's API.

`TWILIO_API_BASE_URL` replaces `https://<any>.twilio.com` for every Twilio host, as Twilio's own guide to
mocking with Prism does; `TWILIO_API_BASE_URL_OVERRIDES` sends one host (api, conversations, lookups)
elsewhere, so a test can run one mock per OpenAPI file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from requests import Session
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from gateway.settings import Settings

_TWILIO_HOST = re.compile(r"^https://(?P<host>[a-z0-9-]+)(?:\.[a-z0-9-]+)*\.twilio\.com")


class _EnvironmentReadOnce(Session):
    """requests reads the proxy and CA bundle variables of the whole environment again on every
    request: a fifth of the CPU an SMS send took. Like every setting of the gateway, they are read
    once here (per scheme and host, for NO_PROXY), when the first request goes there."""

    def __init__(self) -> None:
        super().__init__()
        self._read: dict[tuple[str, str], dict[str, Any]] = {}

    def merge_environment_settings(
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or stream is not None or verify is not None or cert is not None:
            return dict(super().merge_environment_settings(url, proxies, stream, verify, cert))
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._read:
            self._read[key] = dict(super().merge_environment_settings(url, {}, None, None, None))
        found = self._read[key]
        return {**found, "proxies": dict(found["proxies"])}


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends each request to the configured base URL instead of *.twilio.com."""

    session: Session

    def __init__(self, base_url: str | None, overrides: Mapping[str, str], timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url
        self.overrides = overrides
        session = _EnvironmentReadOnce()
        session.adapters = self.session.adapters  # as Twilio's client mounted them (pool sizes)
        self.session = session

    def target(self, url: str) -> str:
        match = _TWILIO_HOST.match(url)
        if not match:
            return url
        base = self.overrides.get(match.group("host"), self.base_url)
        return base + url[match.end() :] if base else url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, self.target(url), *args, **kwargs)


def make_client(settings: Settings, timeout: float | None = None) -> Client:
    """A configured client; callers must check `settings.twilio_enabled` first. `timeout`: seconds
    per request when not TWILIO_HTTP_TIMEOUT (a lookup while a caller waits must be quicker)."""
    http_client = RedirectingHttpClient(
        settings.twilio_api_base_url,
        settings.twilio_api_base_url_overrides,
        timeout or settings.twilio_http_timeout,
    )
    if settings.twilio_api_key:
        return Client(
            settings.twilio_api_key,
            settings.twilio_api_secret,
            account_sid=settings.twilio_account_sid,
            http_client=http_client,
        )
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)

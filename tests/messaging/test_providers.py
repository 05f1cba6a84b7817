"""Message providers: what their log lines and errors say about the number they were given."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.rest import Client

from gateway.messaging.providers import SendError, TwilioProvider
from gateway.twilio_rest import RedirectingHttpClient
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN


class _FirstHandler(logging.Handler):
    """A handler that sees records before ours does, as an error tracker's may: it gets no masking."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append({"name": record.name, "message": record.getMessage(), **record.__dict__})


def test_local_outbox_log_record_carries_the_masked_number_for_every_handler(app: Any) -> None:
    first, root = _FirstHandler(), logging.getLogger()
    root.handlers.insert(0, first)
    try:
        app.extensions["deflect"].provider.send(
            to="+79161234567", body="Ссылка", status_callback=None, idempotency_key="k-log"
        )
    finally:
        root.removeHandler(first)
    [record] = [r for r in first.seen if r["name"] == "gateway.messaging.providers"]
    assert record["to"] == "+7916*****67"


def test_unreachable_twilio_error_does_not_carry_the_url_with_the_number() -> None:
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=RedirectingHttpClient(dead, {}, 2.0))
    provider = TwilioProvider(client, sender="+77012345678", messaging_service_sid=None)
    since = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    with pytest.raises(SendError) as listing:
        provider.find_sent(to="+79161234567", body="Ссылка", since=since, idempotency_key="k")
    with pytest.raises(SendError) as sending:
        provider.send(to="+79161234567", body="Ссылка", status_callback=None, idempotency_key="k")

    for caught in (listing, sending):
        assert caught.value.permanent is False
        assert "ConnectionError" in str(caught.value)
        # Neither the message nor a chained exception in the traceback quotes the request's URL.
        assert "9161234567" not in str(caught.value) and "127.0.0.1" not in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__

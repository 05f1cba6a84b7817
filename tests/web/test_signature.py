"""The signature check is the door of every Twilio webhook: a stranger is refused from the headers alone,
before the body is read, a body that is not a form is refused, a body of any size costs at most the
configured limit, and nothing a stranger sent reaches the logs as a CallSid."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from gateway.logs import call_sid_var
from gateway.store.models import CallEvent
from tests.support.calls import PUBLIC_BASE, Call, sign

INCOMING = "/twilio/voice/incoming"
FORM = "application/x-www-form-urlencoded"


class WatchedBody:
    """A request body that notes whether anyone read it, and never ends on its own."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return b"a" * (size if size is not None and size >= 0 else 1024 * 1024)


class CallSidsInLogs(logging.Handler):
    """The CallSid bound to the logs when each record was written."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), call_sid_var.get()))


@pytest.fixture
def call_sids_in_logs() -> Iterator[CallSidsInLogs]:
    handler = CallSidsInLogs()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def _nothing_stored(app: Any) -> bool:
    services = app.extensions["deflect"]
    with services.database.session() as session:
        events = session.scalar(select(func.count(CallEvent.id)))
    return events == 0 and services.redis.keys("deflect:call:*") == []


def _post(client: Any, body: WatchedBody, length: int | None, headers: dict[str, str] | None = None) -> Any:
    """POST `body` as a form of `length` bytes, or chunked (no length, as gunicorn passes it on)."""
    environ: dict[str, Any] = {"wsgi.input": body}
    if length is None:
        environ.update(HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True})
    else:
        environ["CONTENT_LENGTH"] = str(length)
    return client.post(
        INCOMING, content_type=FORM, headers=headers or {}, environ_overrides=environ, base_url=PUBLIC_BASE
    )


FORGED = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}


def test_unsigned_webhook_is_refused_before_its_body_is_read(client: Any) -> None:
    body = WatchedBody()

    response = _post(client, body, 32 * 1024 * 1024)

    assert response.status_code == 403
    assert body.reads == 0


def test_body_over_the_limit_is_refused_unread_whatever_it_claims_to_be(client: Any) -> None:
    body = WatchedBody()

    response = _post(client, body, 32 * 1024 * 1024, FORGED)

    assert response.status_code == 413
    assert body.reads == 0


def test_chunked_body_is_cut_off_at_the_limit(make_app: Any) -> None:
    app = make_app(DEFLECT_MAX_BODY_KB="16")
    body = WatchedBody()

    response = _post(app.test_client(), body, None, FORGED)

    assert response.status_code == 413
    assert 0 < body.reads <= 2  # the limit, and one byte to see there is more


def test_chunked_webhook_within_the_limit_is_served(client: Any, call: Call) -> None:
    params = call.params()
    body = io.BytesIO(urlencode(params).encode())
    environ = {"wsgi.input": body, "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}

    response = client.post(
        INCOMING,
        content_type=FORM,
        headers={"X-Twilio-Signature": sign(PUBLIC_BASE + INCOMING, params)},
        environ_overrides=environ,
        base_url=PUBLIC_BASE,
    )

    assert response.status_code == 200
    assert response.mimetype == "text/xml"


def test_a_real_webhook_fits_well_under_the_limit(app: Any, call: Call) -> None:
    # The largest Twilio sends: a WhatsApp message of 4096 Cyrillic characters, percent-encoded.
    params = call.params(Body="Ж" * 4096, MessageSid="SM" + "0" * 32, NumMedia="0")

    assert len(urlencode(params)) < app.config["MAX_CONTENT_LENGTH"] / 4


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="Digits"\r\n\r\n1\r\n--x--\r\n',
        ),
        ("application/json", b'{"CallSid": "CA' + b"1" * 32 + b'"}'),
        ("text/plain", b"CallSid=CA" + b"1" * 32),
    ],
)
def test_signed_url_with_a_body_that_is_not_a_form_is_unsupported(
    app: Any, client: Any, content_type: str, body: bytes
) -> None:
    # A signature over the URL alone (what Twilio computes for a request without form parameters).
    signature = sign(PUBLIC_BASE + INCOMING, {})

    response = client.post(
        INCOMING,
        data=body,
        content_type=content_type,
        headers={"X-Twilio-Signature": signature},
        base_url=PUBLIC_BASE,
    )

    assert response.status_code == 415
    assert _nothing_stored(app)


def test_callsid_of_a_forged_request_never_reaches_the_logs(
    app: Any, call: Call, call_sids_in_logs: CallSidsInLogs
) -> None:
    forged = call.post(INCOMING, signature="bm90IGEgc2lnbmF0dXJl")

    assert forged.status == 403
    assert any("refused" in message for message, _ in call_sids_in_logs.seen)
    assert all(sid is None for _, sid in call_sids_in_logs.seen)
    assert _nothing_stored(app)


def test_callsid_of_a_signed_request_is_in_its_logs(call: Call, call_sids_in_logs: CallSidsInLogs) -> None:
    answer = call.post("/twilio/voice/step/no-such-step")

    assert answer.status == 200
    assert call_sids_in_logs.seen
    assert {sid for _, sid in call_sids_in_logs.seen} == {call.call_sid}
    assert call_sid_var.get() is None  # and it does not outlive the request

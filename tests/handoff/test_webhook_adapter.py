"""The signed webhook: a real HTTP receiver on 127.0.0.1 checks our signature the way a desk would, and
the adapter tells a refused hand-off (dead letter) from one worth retrying."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.clock import ManualClock, SystemClock
from gateway.handoff.base import HandoffError, HandoffPayload
from gateway.handoff.story import CallStory
from gateway.handoff.webhook import WebhookAdapter, handoff_body, sign, verify_signature

SECRET = "whsec-test-" + "k" * 24
CARD_URL = "https://voice.example.test/card/eyJzIjo0Mn0.Z0Nb8A.signature"


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    signature_ok: bool


@dataclass
class Receiver:
    """A desk's endpoint: verifies every request with `verify_signature`, answers `status` (and
    `reply` as JSON), and keeps what it got."""

    status: int = 200
    reply: dict[str, Any] | None = field(default_factory=lambda: {"id": "T-1001"})
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = verify_signature(
                SECRET, self.headers.get("X-Timestamp"), body, self.headers.get("X-Signature"), time.time()
            )
            state.received.append(Received(body, dict(self.headers.items()), ok))
            time.sleep(state.delay)
            status = state.status if ok else 401
            answer = json.dumps(state.reply).encode() if state.reply is not None and ok else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/handoff"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _payload(**changes: Any) -> HandoffPayload:
    story = CallStory(
        reference="K7XAMN",
        call_sid="CA" + "1" * 32,
        caller="+79161234567",
        flow_id="ru-bank-support",
        locale="ru-RU",
        queue="bank-cards",
        menu_choices=["Карты", "Вопрос по карте"],
        waited_seconds=372,
        position=4,
        consent_id=17,
        called_at="2026-11-24T09:00:05+00:00",
    )
    values: dict[str, Any] = {
        "handoff_id": 42,
        "session_id": 7,
        "channel": "whatsapp",
        "customer_address": "whatsapp:+79161234567",
        "customer_name": "Анна",
        "first_message": "Здравствуйте! Продолжаю обращение по звонку в Example Bank, номер K7XAMN",
        "message_id": "SM" + "a" * 32,
        "match": "reference",
        "flagged": None,
        "story": story,
        "context_card_url": CARD_URL,
    }
    values.update(changes)
    return HandoffPayload(**values)


def test_desk_receives_the_signed_story_and_we_keep_its_id(receiver: Receiver) -> None:
    delivered = WebhookAdapter(receiver.url, SECRET).deliver(_payload())

    assert delivered.external_id == "T-1001"
    [got] = receiver.received
    assert got.signature_ok
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Handoff-Id"] == "42"
    assert got.headers["Idempotency-Key"] == "handoff-42"
    assert got.headers["User-Agent"].startswith("deflect-gateway/")
    assert abs(int(got.headers["X-Timestamp"]) - SystemClock().time()) < 10  # the default: the system's
    data = json.loads(got.body.decode("utf-8"))
    assert data["event"] == "chat.handoff"
    assert data["story"]["reference"] == "K7XAMN"
    assert data["story"]["queue"] == "bank-cards"
    assert data["story"]["menu_choices"] == ["Карты", "Вопрос по карте"]
    assert data["story"]["waited_seconds"] == 372
    assert data["first_message"].endswith("номер K7XAMN")
    assert data["context_card_url"] == CARD_URL
    assert data["summary"] == _payload().summary()
    assert "ждал(а) 6 мин в очереди bank-cards" in data["summary"]


def test_body_is_compact_utf8_and_cyrillic_survives(receiver: Receiver) -> None:
    WebhookAdapter(receiver.url, SECRET).deliver(_payload())

    [got] = receiver.received
    assert "Здравствуйте!".encode() in got.body  # UTF-8, not \u escapes
    assert b"\\u04" not in got.body
    compact = json.dumps(json.loads(got.body), ensure_ascii=False, separators=(",", ":")).encode()
    assert got.body == compact == handoff_body(_payload())
    assert json.loads(got.body)["customer_name"] == "Анна"


def test_retry_of_the_same_handoff_carries_the_same_idempotency_key(receiver: Receiver) -> None:
    adapter = WebhookAdapter(receiver.url, SECRET)
    adapter.deliver(_payload())
    adapter.deliver(_payload())

    keys = {r.headers["Idempotency-Key"] for r in receiver.received}
    assert keys == {"handoff-42"}
    assert all(r.signature_ok for r in receiver.received)


def test_receiver_without_a_json_id_is_still_delivered(receiver: Receiver) -> None:
    receiver.status, receiver.reply = 204, None

    assert WebhookAdapter(receiver.url, SECRET).deliver(_payload()).external_id is None


@pytest.mark.parametrize("status", [503, 500, 429, 408])
def test_busy_or_failing_desk_is_retried_later(receiver: Receiver, status: int) -> None:
    receiver.status = status

    with pytest.raises(HandoffError) as caught:
        WebhookAdapter(receiver.url, SECRET).deliver(_payload())

    assert caught.value.permanent is False
    assert str(status) in str(caught.value)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_refused_handoff_is_permanent(receiver: Receiver, status: int) -> None:
    receiver.status, receiver.reply = status, {"error": "unknown queue bank-cards"}

    with pytest.raises(HandoffError) as caught:
        WebhookAdapter(receiver.url, SECRET).deliver(_payload())

    assert caught.value.permanent is True
    assert str(status) in str(caught.value)
    # The dead-letter list says why; the exception text, which reaches the log, does not quote the
    # desk's answer: desks often quote the refused chat back.
    assert caught.value.detail is not None and "unknown queue bank-cards" in caught.value.detail
    assert "unknown queue" not in str(caught.value)


def test_wrong_secret_is_refused_by_the_desk_and_not_retried(receiver: Receiver) -> None:
    with pytest.raises(HandoffError) as caught:
        WebhookAdapter(receiver.url, "another-secret").deliver(_payload())

    assert caught.value.permanent is True
    assert "401" in str(caught.value)
    assert receiver.received[0].signature_ok is False


def test_desk_down_is_retried_later() -> None:
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(HandoffError) as caught:
        WebhookAdapter(f"http://127.0.0.1:{port}/hook", SECRET, timeout=2.0).deliver(_payload())

    assert caught.value.permanent is False
    assert SECRET not in str(caught.value)


def test_slow_desk_times_out_and_is_retried_later(receiver: Receiver) -> None:
    receiver.delay = 1.0

    with pytest.raises(HandoffError) as caught:
        WebhookAdapter(receiver.url, SECRET, timeout=0.2).deliver(_payload())

    assert caught.value.permanent is False
    assert "timed out" in str(caught.value)


def test_tampered_body_does_not_verify() -> None:
    body = handoff_body(_payload())
    stamp = int(time.time())
    header = sign(SECRET, stamp, body)

    assert verify_signature(SECRET, str(stamp), body, header, time.time())
    tampered = body.replace(b"bank-cards", b"bank-loans")
    assert not verify_signature(SECRET, str(stamp), tampered, header, time.time())
    assert not verify_signature("other", str(stamp), body, header, time.time())
    assert not verify_signature(SECRET, str(stamp + 1), body, header, time.time())  # timestamp is signed


def test_stale_or_future_timestamp_does_not_verify() -> None:
    body = handoff_body(_payload())
    now = 1_800_000_000.0
    old, future = int(now) - 301, int(now) + 301

    assert not verify_signature(SECRET, old, body, sign(SECRET, old, body), now)
    assert not verify_signature(SECRET, future, body, sign(SECRET, future, body), now)
    assert verify_signature(SECRET, old, body, sign(SECRET, old, body), now, tolerance=600)


@pytest.mark.parametrize(
    ("timestamp", "header"),
    [
        (None, "sha256=00"),
        ("", "sha256=00"),
        ("yesterday", "sha256=00"),
        ("1800000000", None),
        ("1800000000", ""),
        ("1800000000", "md5=abc"),
    ],
)
def test_missing_or_malformed_signature_headers_do_not_verify(timestamp: Any, header: Any) -> None:
    assert not verify_signature(SECRET, timestamp, b"{}", header, 1_800_000_000.0)


def test_signature_uses_the_adapters_clock() -> None:
    adapter = WebhookAdapter("https://desk.example.test/hook", SECRET, clock=ManualClock(1_800_000_000.5))
    body = handoff_body(_payload())

    headers = adapter.headers(_payload(), body)

    assert headers["X-Timestamp"] == "1800000000"
    assert headers["X-Signature"] == sign(SECRET, 1_800_000_000, body)
    assert verify_signature(SECRET, headers["X-Timestamp"], body, headers["X-Signature"], 1_800_000_100)


@pytest.mark.parametrize(("url", "secret"), [("ftp://desk.example.test/", SECRET), ("https://d.test/", "")])
def test_misconfiguration_fails_at_start_up(url: str, secret: str) -> None:
    with pytest.raises(ValueError):
        WebhookAdapter(url, secret)

"""The Twilio REST client's HTTP side: the proxy variables are still honoured now that they are read
once per host (requests read the whole environment again for every request, a fifth of an SMS send's
CPU: see bench/sms_throughput.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from twilio.rest import Client

from gateway.twilio_rest import RedirectingHttpClient
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class _Answering:
    """A loopback HTTP server that answers every request with a created message and keeps the request
    line's target: an absolute URL when it was reached as a proxy, a path when reached directly."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        answering = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answering.targets.append(self.path)
                payload = json.dumps({"sid": "SM" + "5" * 32, "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture
def answering() -> Iterator[_Answering]:
    server = _Answering()
    yield server
    server.stop()


def _send(base: str) -> None:
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=RedirectingHttpClient(base, {}, 5.0))
    for _ in range(2):
        client.messages.create(to="+79161234567", from_="+77012345678", body="Ссылка")


def test_a_proxy_from_the_environment_carries_the_requests(
    no_proxies: pytest.MonkeyPatch, answering: _Answering
) -> None:
    no_proxies.setenv("HTTP_PROXY", answering.url)
    client = Client(
        ACCOUNT_SID, AUTH_TOKEN, http_client=RedirectingHttpClient("http://api.twilio.test", {}, 5.0)
    )
    client.messages.create(to="+79161234567", from_="+77012345678", body="Ссылка")
    no_proxies.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # changed while running: not read again
    client.messages.create(to="+79161234567", from_="+77012345678", body="Ссылка")
    target = f"http://api.twilio.test/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert answering.targets == [target, target]


def test_a_host_in_no_proxy_is_reached_directly(
    no_proxies: pytest.MonkeyPatch, answering: _Answering
) -> None:
    no_proxies.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nobody there
    no_proxies.setenv("NO_PROXY", "127.0.0.1")
    _send(answering.url)
    assert answering.targets == [f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"] * 2

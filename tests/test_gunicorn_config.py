"""The web server as production runs it (gunicorn with `gateway/gunicorn_config.py`, over real sockets):
clients that announce a body and send nothing do not keep `/healthz` or a caller waiting, the database
and Redis work from its workers, and an oversized or unsigned body is refused without being read."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.calls import PUBLIC_BASE, Call, sign
from tests.support.prism import free_port

ROOT = Path(__file__).resolve().parents[1]
FORM = "application/x-www-form-urlencoded"
PATIENCE = 15.0  # seconds: generous, this is no timing test


class Gunicorn:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=PATIENCE)

    def request(self, head: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request; the status and the body of the answer."""
        with self.connect() as sock:
            sock.sendall(head.encode() + body)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status_line, _, rest = answer.partition(b"\r\n")
        return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]

    def status_while_sending(self, head: str, chunks: list[bytes]) -> int:
        """Send the head, then the chunks one by one until the server answers (it may answer, and
        close, before the body is all sent); the answer's status."""
        with self.connect() as sock:
            sock.sendall(head.encode())
            for chunk in [*chunks, b""]:
                readable, _, _ = select.select([sock], [], [], 0.2 if chunk else PATIENCE)
                if readable:
                    break
                try:
                    sock.sendall(chunk)
                except OSError:  # closed on us: the answer is waiting
                    break
            return int(sock.recv(64).split()[1])


@pytest.fixture
def gunicorn(make_app: Any, base_config: dict[str, Any]) -> Iterator[Gunicorn]:
    make_app()  # what the server writes is wiped with this app's data after the test
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
    env.update({k: str(v) for k, v in base_config.items() if k != "TESTING"})
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:gateway.gunicorn_config",
            "--chdir",
            str(ROOT),
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],  # fmt: skip
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Gunicorn(port, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if server.request("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert b"Traceback" not in errors, errors.decode(errors="replace")


def _stalled(server: Gunicorn, path: str) -> socket.socket:
    """A client that announces a 100 kB body (a signed-looking webhook) and never sends it."""
    sock = server.connect()
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: voice.example.test\r\nContent-Type: {FORM}\r\n"
        "X-Twilio-Signature: bm90IGEgc2lnbmF0dXJl\r\nContent-Length: 100000\r\n\r\n".encode()
    )
    return sock


def test_stalled_clients_do_not_keep_health_checks_or_callers_waiting(gunicorn: Gunicorn) -> None:
    paths = ["/twilio/voice/incoming", "/twilio/voice/wait", "/twilio/messaging/inbound", "/healthz"]
    stalled = [_stalled(gunicorn, paths[i % len(paths)]) for i in range(40)]
    try:
        time.sleep(0.5)  # the server has taken them in
        for _ in range(3):
            status, body = gunicorn.request("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert status == 200 and b'"ok"' in body
        # The database and Redis answer from the server's workers (psycopg and redis-py under gevent).
        status, body = gunicorn.request("GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert (status, b'"ready"' in body) == (200, True), body
        # A caller still gets through, and hears TwiML.
        params = Call(client=None).params()
        form = urlencode(params).encode()
        status, twiml = gunicorn.request(
            "POST /twilio/voice/incoming HTTP/1.1\r\nHost: voice.example.test\r\nConnection: close\r\n"
            f"Content-Type: {FORM}\r\nContent-Length: {len(form)}\r\n"
            f"X-Twilio-Signature: {sign(PUBLIC_BASE + '/twilio/voice/incoming', params)}\r\n\r\n",
            form,
        )
        assert status == 200
        assert ET.fromstring(twiml).tag == "Response" and len(ET.fromstring(twiml)) > 0
    finally:
        for sock in stalled:
            sock.close()


def test_unsigned_or_oversized_bodies_are_refused_before_they_are_sent(gunicorn: Gunicorn) -> None:
    head = f"POST /twilio/voice/incoming HTTP/1.1\r\nHost: voice.example.test\r\nContent-Type: {FORM}\r\n"
    # Only the head is sent: the answer comes without waiting for the 32 MB.
    assert gunicorn.status_while_sending(head + f"Content-Length: {32 * 1024 * 1024}\r\n\r\n", []) == 403
    signed_looking = head + "X-Twilio-Signature: bm90IGEgc2lnbmF0dXJl\r\n"
    assert (
        gunicorn.status_while_sending(signed_looking + f"Content-Length: {32 * 1024 * 1024}\r\n\r\n", [])
        == 413
    )


def test_a_chunked_body_past_the_limit_is_refused(gunicorn: Gunicorn) -> None:
    piece = b"a=1&" * 16384  # 64 KiB a chunk; the limit is 128 KiB, the body goes on for 160 MB
    chunks = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n"] * 2560 + [b"0\r\n\r\n"]
    head = (
        "POST /twilio/voice/incoming HTTP/1.1\r\nHost: voice.example.test\r\nConnection: close\r\n"
        f"Content-Type: {FORM}\r\nX-Twilio-Signature: bm90IGEgc2lnbmF0dXJl\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    assert gunicorn.status_while_sending(head, chunks) == 413

"""The gateway under gunicorn with `gateway/gunicorn_config.py`, as production runs it, on a loopback
port: started, waited for (/healthz), and stopped with what it printed checked for tracebacks. What it
prints goes to a file: a pipe nobody reads fills up, and then every worker waits on its next log line."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tests.support.prism import free_port

ROOT = Path(__file__).resolve().parents[2]
PATIENCE = 60.0  # seconds to start, or to answer: generous, this is no timing test


class Server:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process

    def request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PATIENCE)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def environment(config: Mapping[str, Any], **more: str) -> dict[str, str]:
    """The machine's environment without our own settings, then `config` (the tests' settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update({k: str(v) for k, v in config.items() if k != "TESTING"})
    env.update(more)
    return env


@contextmanager
def gunicorn(env: Mapping[str, str], workers: int, log: Path) -> Iterator[Server]:
    port = free_port()
    with log.open("wb") as output:
        process = _start(env, workers, port, output)
    server = Server(port, process)
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                if server.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield server
    finally:
        # Quick shutdown: a worker still booting (one that replaced another) is not waited for long.
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=30)
    printed = log.read_text(errors="replace")
    assert "Traceback" not in printed, printed


def _start(env: Mapping[str, str], workers: int, port: int, output: IO[bytes]) -> subprocess.Popen[bytes]:
    # --graceful-timeout 1: a test has no request in flight worth waiting for.
    command = [sys.executable, "-m", "gunicorn", "-c", "python:gateway.gunicorn_config", "--chdir", str(ROOT)]
    command += ["-w", str(workers), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "1", "wsgi:app"]
    return subprocess.Popen(command, env=dict(env), stdout=output, stderr=subprocess.STDOUT)

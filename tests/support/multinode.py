"""The gateway on several nodes, on loopback: two gateway instances (gunicorn with the gateway's
production configuration, each on its own port), two job workers and one scheduler (`deflect worker`,
`deflect scheduler`), one PostgreSQL database, and Redis behind Sentinel (`tests.support.sentinel`).
Twilio's Messages API is a recording proxy (`TwilioProxy`) in front of a stub that accepts every
message, so every send the workers make is counted, with the outbox row it was for.

Each process writes JSON log lines to its own file in the work directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from sqlalchemy import MetaData

from gateway.store.db import Database
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE
from tests.support.prism import free_port
from tests.support.twilio_proxy import TwilioProxy

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "multinode-secret-key-" + "k" * 32
SMS_FROM = "+77012345678"
WHATSAPP = "+77001234567"
# Distinct from the flows' own hold music and queues, so a fallback is told apart from the flow's hold.
FALLBACK_HOLD_MUSIC = "https://fallback.example.test/hold.mp3"
FALLBACK_QUEUE = "fallback-hold"
WEB_WORKERS = 2
START_SECONDS = 60


class MessagesStub:
    """What the proxy forwards to: takes every message (201) and lists none (the proxy fills the list
    from what it recorded), like Twilio's Messages API for the calls the gateway makes."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(201, {"direction": "outbound-api", "error_code": None, "price": None})

            def do_GET(self) -> None:
                page = {"messages": [], "page": 0, "page_size": 50, "start": 0, "end": 0}
                self._answer(200, page | {"uri": self.path, "first_page_uri": self.path})

            def _answer(self, status: int, document: dict[str, Any]) -> None:
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="messages-stub", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def always_open_flows(target: Path) -> Path:
    """The shipped flows without business hours (the processes' clock is the machine's)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in (ROOT / "ivr_flows").glob("*.yaml"):
        flow = yaml.safe_load(source.read_text(encoding="utf-8"))
        flow.pop("hours", None)
        (target / source.name).write_text(yaml.safe_dump(flow, allow_unicode=True, sort_keys=False))
    return target


def reset_database(url: str) -> None:
    """An empty schema at the latest revision (the test owns this database)."""
    database = Database(url)
    try:
        with database.engine.begin() as conn:
            found = MetaData()
            found.reflect(conn)
            found.drop_all(conn)
    finally:
        database.dispose()


class Installation:
    """Every process of the gateway on this machine, sharing one database and one Redis (Sentinel)."""

    def __init__(self, work: Path, database_url: str, sentinels: str, sms_api: str) -> None:
        self.work = work
        self.database_url = database_url
        self.env = self._environment(sentinels, sms_api)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: list[int] = []

    def _environment(self, sentinels: str, sms_api: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_", "REDIS_"))}
        env.pop("DATABASE_URL", None)
        env.pop("PUBLIC_BASE_URL", None)
        env.pop("SECRET_KEY", None)
        return env | {
            "PYTHONPATH": str(ROOT),
            "DEFLECT_ENV": "production",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": self.database_url,
            "REDIS_SENTINELS": sentinels,
            "REDIS_SENTINEL_MASTER": "deflect",
            "DEFLECT_DATA_DIR": str(self.work / "data"),
            "DEFLECT_FLOWS_DIR": str(always_open_flows(self.work / "flows")),
            "DEFLECT_LOG_LEVEL": "info",
            "DEFLECT_HOLD_MUSIC_URL": FALLBACK_HOLD_MUSIC,
            "DEFLECT_FALLBACK_QUEUE": FALLBACK_QUEUE,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_SMS_FROM": SMS_FROM,
            "TWILIO_API_BASE_URL": sms_api,
            "TWILIO_HTTP_TIMEOUT": "5",
            "DEFLECT_WHATSAPP_NUMBER": WHATSAPP,
            "DEFLECT_LINE_TYPE_LOOKUP": "off",
            # Many callers within minutes: the SMS pumping guards would rightly stop the test's traffic.
            "DEFLECT_SENDER_MPS": "1000",
            "DEFLECT_SMS_PER_MINUTE": "100000",
            "DEFLECT_SMS_DAILY_BUDGET": "1000000",
            "DEFLECT_SMS_PER_PREFIX_HOUR": "100000",
            "DEFLECT_TRIP_PER_PREFIX": "0",
            "DEFLECT_TRIP_PER_NDC": "0",
        }

    def log(self, name: str) -> Path:
        return self.work / f"{name}.log"

    def _start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with self.log(name).open("ab") as output:
            process = subprocess.Popen(command, env=self.env, stdout=output, stderr=output, cwd=ROOT)
        self.processes[name] = process
        return process

    def migrate(self) -> None:
        """The one-off migration job, as a deployment runs it before the other roles start."""
        with self.log("migrate").open("ab") as output:
            subprocess.run(
                [sys.executable, "-m", "gateway.cli", "db", "upgrade"],
                env=self.env,
                stdout=output,
                stderr=output,
                check=True,
                cwd=ROOT,
                timeout=120,
            )

    def start(self, *, instances: int = 2, workers: int = 2) -> None:
        """The scheduler first (it imports the shipped flows and texts into the empty store), then the
        workers and the gateway instances, each ready when its /readyz says so."""
        self.migrate()
        self._start("scheduler", [sys.executable, "-m", "gateway.cli", "scheduler"])
        self._wait_for_log("scheduler", "registering birth")
        for n in range(1, workers + 1):
            self._start(f"worker-{n}", [sys.executable, "-m", "gateway.cli", "worker"])
        for n in range(1, instances + 1):
            port = free_port()
            self._start(
                f"gateway-{n}",
                [
                    sys.executable, "-m", "gunicorn", "-c", "python:gateway.gunicorn_config",
                    "--chdir", str(ROOT), "-w", str(WEB_WORKERS), "-b", f"127.0.0.1:{port}",
                    "--log-level", "info", "wsgi:app",
                ],
            )  # fmt: skip
            self.ports.append(port)
        for n, port in enumerate(self.ports, start=1):
            self._wait_until_ready(f"gateway-{n}", port)
        for n in range(1, workers + 1):
            self._wait_for_log(f"worker-{n}", "Listening on")

    def _wait_until_ready(self, name: str, port: int) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready within {START_SECONDS} s (log: {self.log(name)})")

    def _wait_for_log(self, name: str, text: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            self._check_alive(name)
            if text in self.log(name).read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{name} did not log {text!r} within {START_SECONDS} s (log: {self.log(name)})")

    def _check_alive(self, name: str) -> None:
        if self.processes[name].poll() is not None:
            tail = self.log(name).read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{name} exited with {self.processes[name].returncode}: " + "\n".join(tail))

    def pause_workers(self) -> None:
        """Stop the job workers (SIGSTOP): what is queued meanwhile waits in Redis, until `resume_workers`."""
        for name, process in self.processes.items():
            if name.startswith("worker-"):
                process.send_signal(signal.SIGSTOP)

    def resume_workers(self) -> None:
        for name, process in self.processes.items():
            if name.startswith("worker-"):
                process.send_signal(signal.SIGCONT)

    def alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self.processes.items()}

    def log_lines(self, names: list[str] | None = None) -> list[str]:
        lines: list[str] = []
        for name in names or list(self.processes):
            lines += self.log(name).read_text(errors="replace").splitlines()
        return lines

    def stop(self) -> None:
        self.resume_workers()
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


class SmsApi:
    """Twilio's Messages API on loopback: the recording proxy in front of the stub."""

    def __init__(self) -> None:
        self.stub = MessagesStub()
        self.proxy = TwilioProxy(self.stub.url).start()
        self.url = self.proxy.url

    def sends_per_outbox(self) -> dict[int, int]:
        """How many messages the provider took for each outbox row (its StatusCallback names it)."""
        counts: dict[int, int] = {}
        for request in self.proxy.requests:
            if request.method == "POST" and request.path.endswith("/Messages.json"):
                callback = request.form.get("StatusCallback", "")
                outbox_id = int(callback.rsplit("/", 1)[1]) if callback else -1
                counts[outbox_id] = counts.get(outbox_id, 0) + 1
        return counts

    def stop(self) -> None:
        self.proxy.stop()
        self.stub.stop()

"""Benchmark: how many SMS a second two job workers send, through the real send path.

    python -m bench.sms_throughput [--offers 5000] [--workers 2] [--database-url postgresql://... --wipe]

1. 5,000 offers are accepted for distinct numbers through the real acceptance code path
   (`OfferAcceptance.accept`: the SMS pumping claim on Redis, consent + chat session + outbox row in one
   transaction, the send job queued), starting from the state of one call played through the signed
   webhooks up to the consent question.
2. `deflect worker --burst` is started N times (default 2) and drains the queue through the real send
   path: the atomic claim of the row, the `twilio` client (`TWILIO_API_BASE_URL`), the row's status.
3. "Twilio" is a small local HTTP server answering the Messages API as Twilio does (201 and the
   message's JSON, at once), not Prism: Prism takes several milliseconds a request, which would measure
   Prism. It counts every request per outbox row (by the row's status callback, and by number for the
   look-ups a retry makes) and the bench fails unless each row got exactly one create and nothing else.

It prints SMS/s from the first request to the last (and counting the workers' start-up), and the CPU
the workers and the fake Twilio spent per SMS: on a shared machine the rate follows the load, the CPU
much less. SQLite in a temporary directory by default; `--database-url` a PostgreSQL database to use
(`--wipe` drops its tables first: a database for benchmarks only).

Sender limits are raised for the run (DEFLECT_SENDER_MPS, the per-minute and daily caps, the range
windows and trips: every number is distinct but they share few prefixes). The workers run as
production does: DEFLECT_ENV=production, JSON logs at info, to a log file. Traffic stays on 127.0.0.1,
every wait is bounded, and the script stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import MetaData, func, select  # noqa: E402

from bench.production import always_open_flows  # noqa: E402
from gateway.clock import ManualClock  # noqa: E402
from gateway.store.db import Database  # noqa: E402
from gateway.store.models import SmsOutbox  # noqa: E402
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE, Call  # noqa: E402
from tests.support.servers import RedisServer  # noqa: E402

TARGET = 300.0  # SMS a second (issue 12)
SENDER = "+77012345678"
SECRET_KEY = "bench-secret-key-" + "k" * 32
DRAIN_TIMEOUT = 300.0


class FakeMessagesApi:
    """Twilio's Messages API on loopback, answering at once: a create gets 201 and the message as
    Twilio returns it; a list (what a retried send asks first) gets the messages created to that
    number. Every request is counted against the outbox row it is for."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.creates: Counter[int] = Counter()  # outbox id -> creates
        self.lists: Counter[str] = Counter()  # To -> lists
        self.other: list[str] = []  # requests that are neither
        self.sids: dict[int, str] = {}  # outbox id -> the sid answered last
        self.by_number: dict[str, list[dict[str, Any]]] = {}
        self.times: list[float] = []  # perf_counter of each create
        self.first = threading.Event()
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def start(self) -> FakeMessagesApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API: the client reuses connections
            # The head and the body are two writes: without this, the body waits for the client's
            # delayed ACK of the head (40 ms on Linux).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                api.handle(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.command == "POST" and parts.path.endswith("/Messages.json"):
            status, answer = 201, self.create(parts.path, dict(parse_qsl(raw.decode())))
        elif handler.command == "GET" and parts.path.endswith("/Messages.json"):
            status, answer = 200, self.listed(dict(parse_qsl(parts.query)).get("To", ""))
        else:
            with self._lock:
                self.other.append(f"{handler.command} {parts.path}")
            status, answer = 404, {"code": 20404, "message": "not found", "status": 404}
        payload = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def create(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=True)
        base = path.removesuffix(".json")
        message = {
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{base}/{sid}/Media.json"},
            "to": form.get("To"),
            "uri": f"{base}/{sid}.json",
        }
        callback = form.get("StatusCallback", "")
        outbox_id = int(callback.rsplit("/", 1)[-1]) if callback.rsplit("/", 1)[-1].isdigit() else -1
        with self._lock:
            self.creates[outbox_id] += 1
            self.sids[outbox_id] = sid
            self.by_number.setdefault(form.get("To", ""), []).append(message)
            self.times.append(time.perf_counter())
            self.first.set()
            if len(self.times) >= self.expected:
                self.done.set()
        return message

    def listed(self, to: str) -> dict[str, Any]:
        with self._lock:
            self.lists[to] += 1
            messages = list(reversed(self.by_number.get(to, [])))
        return {"messages": messages, "next_page_uri": None, "previous_page_uri": None, "page": 0}


def settings(work: Path, database_url: str, redis_url: str, twilio_url: str) -> dict[str, str]:
    return {
        "DEFLECT_ENV": "production",
        "DEFLECT_LOG_LEVEL": "info",
        "PUBLIC_BASE_URL": PUBLIC_BASE,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEFLECT_DATA_DIR": str(work / "data"),
        "DEFLECT_FLOWS_DIR": str(always_open_flows(work / "flows")),
        "DEFLECT_BRAND": "Example Bank",
        "DEFLECT_WHATSAPP_NUMBER": "+77001234567",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": SENDER,
        "TWILIO_API_BASE_URL": twilio_url,
        "TWILIO_HTTP_TIMEOUT": "10",
        # Sender limits raised for the run: 5,000 SMS in well under a minute from one sender number.
        "DEFLECT_SENDER_MPS": "1000",
        "DEFLECT_SMS_PER_MINUTE": "100000",
        "DEFLECT_SMS_DAILY_BUDGET": "10000000",
        "DEFLECT_SMS_PER_PREFIX_HOUR": "100000",
        "DEFLECT_SMS_PER_NDC_HOUR": "0",
        "DEFLECT_SMS_PER_NDC_DAY": "0",
        "DEFLECT_SMS_PER_COUNTRY_HOUR": "0",
        "DEFLECT_SMS_PER_COUNTRY_DAY": "0",
        "DEFLECT_TRIP_PER_PREFIX": "0",
        "DEFLECT_TRIP_PER_NDC": "0",
    }


def prepare_database(url: str, wipe: bool) -> None:
    database = Database(url)
    try:
        if wipe:
            with database.engine.begin() as conn:
                found = MetaData()
                found.reflect(conn)
                found.drop_all(conn)
        database.upgrade()
        with database.session() as session:
            if session.scalar(select(func.count(SmsOutbox.id))):
                raise SystemExit(f"{url}: the outbox is not empty; use an empty database (or --wipe)")
    finally:
        database.dispose()


def accept_offers(config: dict[str, str], count: int) -> list[int]:
    """`count` accepted offers for distinct numbers, through `OfferAcceptance.accept`: the outbox ids."""
    from gateway.app import create_app
    from gateway.deflection.accept import Accepted

    clock = ManualClock(time.time())
    app = create_app(config, environ={}, clock=clock)
    services = app.extensions["deflect"]
    try:
        call = Call(app.test_client())
        greeting = call.incoming()
        call.press(call.press(greeting, "1"), "2")
        clock.advance(50)
        consent = call.press(call.wait(), "1")
        assert consent.all("Gather"), "the consent question was not asked"
        asked = services.voice.states.load(call.call_sid)
        flow = services.registry.flow(asked.flow_id, asked.flow_version)
        acceptance = services.voice.deflection.acceptance
        ids = []
        for n in range(count):
            state = asked.copy()
            # Distinct mobile numbers over 50 prefixes of +7916 (Moscow mobiles).
            number = f"+7916{n % 50:03d}{n // 50:04d}"
            state.call_sid = "CA" + uuid.uuid4().hex
            state.caller = state.deflection.number = number
            result = acceptance.accept(flow, state, "1", clock.time(), position=3, link_base=PUBLIC_BASE)
            if not isinstance(result, Accepted):
                raise SystemExit(f"offer {n} was not accepted: {result}")
            ids.append(result.outbox_id)
        ready = services.redis.llen(f"deflect:sms:ready:{services.queue.name}")
        print(f"{count} offers accepted: {ready} on the ready list, {services.queue.count} send jobs queued")
        return ids
    finally:
        services.close()


@dataclass(frozen=True)
class Drained:
    started: float  # perf_counter when the workers were started
    workers_cpu: float  # CPU seconds (user + system) of the workers, start-up included
    startup_cpu: float | None  # of which before the first SMS (None: no /proc to read it from)
    api_cpu: float  # CPU seconds of this process meanwhile: the fake Twilio


def drain(env: dict[str, str], workers: int, log: Path, api: FakeMessagesApi) -> Drained:
    """Start the workers, wait until every SMS was asked for and the workers have exited."""
    children, own = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
    with log.open("ab") as output:
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "worker", "--burst"],
                env=env,
                stdout=output,
                stderr=output,
            )
            for _ in range(workers)
        ]
        try:
            api.first.wait(DRAIN_TIMEOUT)
            startup = _cpu_seconds([process.pid for process in processes])
            api.done.wait(DRAIN_TIMEOUT)
            for process in processes:
                process.wait(timeout=DRAIN_TIMEOUT)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return Drained(started, cpu, startup, time.process_time() - own)


def _cpu_seconds(pids: list[int]) -> float | None:
    """CPU seconds the running processes have used so far (Linux: /proc/<pid>/stat)."""
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def check(database_url: str, ids: list[int], api: FakeMessagesApi) -> list[str]:
    """What went wrong: every row sent once, with the sid Twilio gave it, and nothing else asked."""
    from gateway.deflection.outbox import ACCEPTED_STATUSES

    problems = []
    twice = {i: n for i, n in api.creates.items() if n != 1}
    missing = [i for i in ids if i not in api.creates]
    if twice:
        problems.append(
            f"{len(twice)} rows got more than one create request (e.g. {next(iter(twice.items()))})"
        )
    if missing:
        problems.append(f"{len(missing)} rows got no create request (e.g. outbox {missing[0]})")
    if set(api.creates) - set(ids):
        problems.append(
            f"create requests for rows not queued here: {sorted(set(api.creates) - set(ids))[:5]}"
        )
    if api.lists:
        problems.append(f"{sum(api.lists.values())} message list requests (retries looking for a send)")
    if api.other:
        problems.append(f"unexpected requests: {api.other[:3]}")
    database = Database(database_url)
    try:
        with database.session() as session:
            rows = session.execute(select(SmsOutbox.id, SmsOutbox.status, SmsOutbox.provider_sid)).all()
    finally:
        database.dispose()
    wrong = [r for r in rows if r.status not in ACCEPTED_STATUSES or r.provider_sid != api.sids.get(r.id)]
    if len(rows) != len(ids):
        problems.append(f"{len(rows)} outbox rows for {len(ids)} accepted offers")
    if wrong:
        problems.append(f"{len(wrong)} rows not marked sent with Twilio's sid (e.g. {tuple(wrong[0])})")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--offers", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--wipe", action="store_true", help="drop every table of --database-url first")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (the workers' log)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deflect-sms-"))
    database_url = args.database_url or f"sqlite:///{work / 'gateway.sqlite3'}"
    if database_url.startswith(("postgresql://", "postgres://")):  # psycopg 3, as the gateway does
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    redis = RedisServer(work / "redis").start()
    api = FakeMessagesApi(args.offers).start()
    try:
        prepare_database(database_url, args.wipe)
        config = settings(work, database_url, redis.url, api.url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))} | config
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        began = time.perf_counter()
        ids = accept_offers(config, args.offers)
        accepted = time.perf_counter() - began
        drained = drain(env, args.workers, work / "workers.log", api)
        problems = check(database_url, ids, api)
        first, last, started = api.times[0], api.times[-1], drained.started
        engine = database_url.split(":", 1)[0].split("+", 1)[0]
        print(
            f"{args.offers} offers accepted in {accepted:.1f} s (real acceptance path); "
            f"{args.workers} workers (`deflect worker --burst`), {engine}, a local fake of Twilio's "
            f"Messages API through the twilio client; load before the drain: {os.getloadavg()[0]:.2f}"
        )
        print(
            f"sent {len(api.times)} SMS: {(len(api.times) - 1) / (last - first):.0f} SMS/s from the first "
            f"request to the last ({last - first:.1f} s); {len(api.times) / (last - started):.0f} SMS/s "
            f"counting the workers' start ({first - started:.1f} s to the first request)"
        )
        lines = (work / "workers.log").read_text(errors="replace").count("\n")
        sent = len(api.times)
        steady = (
            f"{(drained.workers_cpu - drained.startup_cpu) / sent * 1000:.2f} ms in the workers from their "
            f"first SMS on, {drained.workers_cpu / sent * 1000:.2f} ms with their start-up"
            if drained.startup_cpu is not None
            else f"{drained.workers_cpu / sent * 1000:.2f} ms in the workers (their start-up included)"
        )
        print(
            f"CPU per SMS: {steady}, {drained.api_cpu / sent * 1000:.2f} ms in the fake Twilio; "
            f"{lines} lines in the workers' log"
        )
        creates = dict(Counter(api.creates.values()))
        print(f"requests per row: {creates} creates, {sum(api.lists.values())} lists")
        rate = (len(api.times) - 1) / (last - first)
        if problems:
            print("FAILED: " + "; ".join(problems))
            raise SystemExit(1)
        print(f"target {TARGET:.0f} SMS/s: {'met' if rate >= TARGET else 'NOT met'}")
    finally:
        api.stop()
        redis.stop()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

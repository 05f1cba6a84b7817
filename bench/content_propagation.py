"""How soon every gunicorn process serves a newly published flow, with no restart (issue 9: "publish,
then every process follows within 5 s").

The gateway runs under gunicorn with the production configuration (gateway/gunicorn_config.py, gevent
workers) on a private Redis and a SQLite file. Signed incoming-call webhooks hit it without pause from
several client threads (the kernel spreads them over the workers), while this script publishes an
edited greeting, then rolls it back, several times, through the same service API the CLI and the admin
console call. For each change it reports when the first answer had the new greeting and when the last
answer had the old one: after that moment no worker served the old version again.

    python -m bench.content_propagation [--workers 4] [--rounds 5] [--clients 8]

Loopback only; the script stops by itself.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import edge
from bench.production import SECRET_KEY, stop
from gateway.content.registry import CHECK_INTERVAL_SECONDS
from gateway.content.service import ContentService
from gateway.services import content_kinds
from gateway.settings import load_settings
from gateway.store.content import ContentStore
from gateway.store.db import Database
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE
from tests.support.live_client import LiveClient
from tests.support.messages import post_signed
from tests.support.servers import RedisServer

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "ivr_flows" / "ru_bank_support.yaml"
OLD, NEW = "службу поддержки банка", "Пример Банк"
SETTLE = 1.5  # seconds of only-new answers after the last old one before a round ends


def environment(work: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
    for name in ("REDIS_URL", "DATABASE_URL", "PUBLIC_BASE_URL", "SECRET_KEY"):
        env.pop(name, None)
    return env | {
        "PUBLIC_BASE_URL": PUBLIC_BASE,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{work / 'gateway.sqlite3'}",
        "REDIS_URL": redis_url,
        "DEFLECT_DATA_DIR": str(work / "data"),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "DEFLECT_WHATSAPP_NUMBER": "+77001234567",
        "DEFLECT_TELEGRAM_BOT": "ExampleBankBot",
        "DEFLECT_LOG_LEVEL": "warning",
    }


def private_gateway(work: Path, exits: ExitStack) -> tuple[dict[str, str], Database]:
    """A private Redis and a migrated SQLite file in `work`, and the gateway's environment for them;
    `exits` stops and closes them."""
    redis_server = RedisServer(work / "redis").start()
    exits.callback(redis_server.stop)
    env = environment(work, redis_server.url)
    database = Database(env["DATABASE_URL"])
    database.upgrade()
    exits.callback(database.dispose)
    return env, database


class Listener:
    """Client threads placing incoming calls without pause; every answer kept as (time, greeting)."""

    def __init__(self, port: int, clients: int) -> None:
        self.port = port
        self.answers: list[tuple[float, str]] = []
        self.errors = 0
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self._call, args=(n,), daemon=True) for n in range(clients)]

    def __enter__(self) -> Listener:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.running = False
        for thread in self.threads:
            thread.join()

    def _call(self, n: int) -> None:
        client = LiveClient(self.port, timeout=10)
        number = 0
        while self.running:
            number += 1
            params = {
                "CallSid": f"CA{n:04d}{number:028x}",
                "AccountSid": ACCOUNT_SID,
                "From": f"+7916{n:03d}{number % 10000:04d}",
                "To": "+74952223344",
                "Called": "+74952223344",
                "CallStatus": "ringing",
                "Direction": "inbound",
            }
            answer = post_signed(client, "/twilio/voice/incoming", params)
            said = "new" if NEW in answer.text else "old" if OLD in answer.text else "other"
            with self.lock:
                if answer.status_code != 200 or said == "other":
                    self.errors += 1
                self.answers.append((time.monotonic(), said))
        client.close()

    def since(self, moment: float) -> list[tuple[float, str]]:
        with self.lock:
            return [a for a in self.answers if a[0] >= moment]


def one_round(listener: Listener, change: Any, now_serving: str) -> dict[str, float]:
    """Make one change, then wait until only `now_serving` has been heard for SETTLE seconds."""
    before = "old" if now_serving == "new" else "new"
    # A random moment within two check intervals: changes made in step with the workers' checks would
    # all land at the same point of the interval and measure that point only.
    time.sleep(random.uniform(0, 2 * CHECK_INTERVAL_SECONDS))
    start = time.monotonic()
    change()
    committed = time.monotonic()
    deadline = committed + 30
    while time.monotonic() < deadline:
        time.sleep(0.1)
        answers = listener.since(start)
        stale = [t for t, said in answers if said == before]
        last_stale = max(stale) if stale else committed
        if time.monotonic() - last_stale >= SETTLE and any(s == now_serving for _, s in answers):
            first_new = min(t for t, said in answers if said == now_serving)
            return {
                "first": first_new - committed,
                "all": max(last_stale - committed, 0.0),
                "answers": float(len(answers)),
            }
    recent = listener.since(time.monotonic() - 5)
    heard = {said: sum(1 for _, s in recent if s == said) for said in ("old", "new", "other")}
    raise RuntimeError(f"the change did not reach every process within 30 s (last 5 s: {heard})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with ExitStack() as exits, tempfile.TemporaryDirectory(prefix="bench-content-") as tmp:
        work = Path(tmp)
        env, database = private_gateway(work, exits)
        log = work / "gateway.log"
        output = exits.enter_context(log.open("ab"))
        try:  # the first worker imports the shipped files into the empty store
            gunicorn, port = edge.start_gunicorn(env, "gevent", args.workers, output=output)
        except RuntimeError:
            print(log.read_text(encoding="utf-8", errors="replace")[-3000:])
            raise
        exits.callback(stop, gunicorn)
        settings = load_settings(environ=env)
        content = ContentService(ContentStore(database), content_kinds(settings), _clock())
        edited = FLOW.read_text(encoding="utf-8").replace(OLD, NEW)
        content.save_draft("flow", {FLOW.name: edited}, actor="bench")
        content.publish("flow", "ru-bank-support", actor="bench", comment="edited greeting")
        content.rollback("flow", "ru-bank-support", 1, actor="bench")
        time.sleep(CHECK_INTERVAL_SECONDS + 1)
        results: list[dict[str, float]] = []
        with Listener(port, args.clients) as listener:
            time.sleep(1.0)  # every worker has answered and compiled the live flow
            for _ in range(args.rounds):
                results.append(
                    one_round(
                        listener, lambda: content.rollback("flow", "ru-bank-support", 2, actor="b"), "new"
                    )
                )
                results.append(
                    one_round(
                        listener, lambda: content.rollback("flow", "ru-bank-support", 1, actor="b"), "old"
                    )
                )
            errors, total = listener.errors, len(listener.answers)
    firsts = [r["first"] for r in results]
    alls = [r["all"] for r in results]
    print(f"gunicorn -k gevent -w {args.workers}, {args.clients} client threads, {len(results)} changes")
    print(f"registry check interval {CHECK_INTERVAL_SECONDS:.1f} s; calls answered {total}, errors {errors}")
    for label, figures in (
        ("first answer with the new version", firsts),
        ("last answer with the old one", alls),
    ):
        median, worst = statistics.median(figures), max(figures)
        print(f"{label:34} after the commit: median {median:.2f} s, max {worst:.2f} s")


def _clock() -> Any:
    from gateway.clock import SystemClock

    return SystemClock()


if __name__ == "__main__":
    main()

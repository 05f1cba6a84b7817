"""The gateway as production runs it, on loopback, for benchmarks that attack or load it from outside:
gunicorn with `gateway/gunicorn_config.py` (gevent workers), one `deflect worker` and the `deflect
scheduler`, DEFLECT_ENV=production with an https PUBLIC_BASE_URL, a private Redis and SQLite; around it
Prism behind recording proxies as Twilio (Messages, Conversations), a fake Telegram Bot API and a desk
that takes signed hand-off webhooks. Every process writes to one log file (JSON lines from the gateway).

Also the ways to talk to it as Twilio, Telegram and customers do, and to read what it did.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from bench import edge
from gateway.store.db import Database
from gateway.store.models import CallEvent, Handoff, InboundMessage
from tests.support import prism
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE
from tests.support.fake_telegram import FakeTelegram
from tests.support.live_client import LiveClient, LiveResponse
from tests.support.messages import INBOUND_PATH, inbound_params, post_signed
from tests.support.receiver import Receiver
from tests.support.servers import RedisServer
from tests.support.twilio_proxy import TwilioProxy

ROOT = Path(__file__).resolve().parents[1]
TELEGRAM_TOKEN, TELEGRAM_SECRET = "123456:bench-bot-token", "bench-webhook-secret"
VIBER_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
DESK_SECRET, SECRET_KEY = "bench-desk-secret", "bench-secret-key-" + "k" * 32
SECRETS = (AUTH_TOKEN, TELEGRAM_TOKEN, TELEGRAM_SECRET, VIBER_TOKEN, DESK_SECRET, SECRET_KEY)
BRAND = "Example Bank"
WEB_WORKERS = 2


def wait_until(what: str, check: Callable[[], Any], timeout: float = 30, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def always_open_flows(target: Path) -> Path:
    """The shipped flows without business hours: the server's clock cannot be moved from outside, and a
    closed line makes no offer."""
    target.mkdir(parents=True)
    for source in (ROOT / "ivr_flows").glob("*.yaml"):
        flow = yaml.safe_load(source.read_text(encoding="utf-8"))
        flow.pop("hours", None)
        (target / source.name).write_text(yaml.safe_dump(flow, allow_unicode=True, sort_keys=False))
    return target


class Stack:
    """The gateway as production runs it, and what surrounds it, on loopback; `exits` stops it all."""

    def __init__(self, work: Path, exits: ExitStack) -> None:
        self.work = work
        self.redis = RedisServer(work / "redis").start()
        exits.callback(self.redis.stop)
        apis = [
            prism.start("twilio_api_v2010.json", work, f"/2010-04-01/Accounts/{ACCOUNT_SID}/Queues.json"),
            prism.start("twilio_conversations_v1.json", work, "/v1/Conversations"),
        ]
        for api in apis:
            exits.callback(api.stop)
        self.proxy = exits.enter_context(TwilioProxy(apis[0].url))
        self.conversations = exits.enter_context(TwilioProxy(apis[1].url))
        self.telegram = exits.enter_context(FakeTelegram(TELEGRAM_TOKEN))
        self.desk = Receiver()
        exits.callback(self.desk.stop)
        self.sqlite = str(work / "gateway.sqlite3")
        self.database = Database(f"sqlite:///{self.sqlite}")
        self.database.upgrade()
        exits.callback(self.database.dispose)
        env = self.environment()
        self.log = work / "gateway.log"
        output = exits.enter_context(self.log.open("ab"))
        for command in ("worker", "scheduler"):
            cli = [sys.executable, "-m", "gateway.cli", command]
            exits.callback(stop, subprocess.Popen(cli, env=env, stdout=output, stderr=output))
        options = ("--log-level", "info", "--access-logfile", "-")
        self.gunicorn, self.port = edge.start_gunicorn(
            env, "gevent", WEB_WORKERS, options=options, output=output
        )
        exits.callback(stop, self.gunicorn)
        self.http = LiveClient(self.port)
        exits.callback(self.http.close)
        self.ids = itertools.count(1)
        self.bodies: list[str] = []  # every message body sent, looked for in the log at the end

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
        for name in ("REDIS_URL", "DATABASE_URL", "PUBLIC_BASE_URL", "SECRET_KEY"):
            env.pop(name, None)
        return env | {
            "DEFLECT_ENV": "production",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": f"sqlite:///{self.sqlite}",
            "REDIS_URL": self.redis.url,
            "DEFLECT_DATA_DIR": str(self.work / "data"),
            "DEFLECT_FLOWS_DIR": str(always_open_flows(self.work / "flows")),
            "DEFLECT_LOG_LEVEL": "info",
            "DEFLECT_BRAND": BRAND,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_SMS_FROM": "+77012345678",
            "TWILIO_API_BASE_URL": self.proxy.url,
            "TWILIO_API_BASE_URL_OVERRIDES": f"conversations={self.conversations.url}",
            "TWILIO_HTTP_TIMEOUT": "5",
            "DEFLECT_WHATSAPP_NUMBER": "+77001234567",
            "DEFLECT_TELEGRAM_BOT": "ExampleBankBot",
            "DEFLECT_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "DEFLECT_TELEGRAM_SECRET": TELEGRAM_SECRET,
            "DEFLECT_TELEGRAM_API_BASE_URL": self.telegram.url,
            "DEFLECT_VIBER_URI": "examplebank",
            "DEFLECT_VIBER_AUTH_TOKEN": VIBER_TOKEN,
            "DEFLECT_HANDOFF_ADAPTERS": "conversations,webhook,card",
            "DEFLECT_HANDOFF_WEBHOOK_URL": self.desk.url,
            "DEFLECT_HANDOFF_WEBHOOK_SECRET": DESK_SECRET,
        }

    def message(
        self, body: str, sender: str, channel: str = "whatsapp", **extra: str
    ) -> tuple[str, LiveResponse]:
        """An inbound WhatsApp or SMS message as Twilio posts it, signed: (its MessageSid, the answer)."""
        sid = f"SM{next(self.ids):032x}"
        self.bodies.append(body)
        params = inbound_params(body, sender=sender, sid=sid, channel=channel, profile_name=None) | extra
        return sid, post_signed(self.http, INBOUND_PATH, params)

    def telegram_message(self, text: str, chat_id: int) -> tuple[str, str]:
        """A Telegram update: (its message id, what the bot then sent to that chat)."""
        update_id, already = 700000 + next(self.ids), len(self.telegram.sent)
        self.bodies.append(text)
        chat = {"id": chat_id, "type": "private"}
        message = {"message_id": update_id, "date": 1764000000, "chat": chat, "from": chat, "text": text}
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        answer = self.http.post(
            "/telegram/webhook", json={"update_id": update_id, "message": message}, headers=headers
        )
        if answer.status_code != 200:
            raise RuntimeError(f"Telegram update refused: {answer.status_code}")
        replies = [m["text"] for m in self.telegram.sent[already:] if m["chat_id"] == chat_id]
        return f"tg:{update_id}", " ".join(replies)

    def rows(self, query: Any) -> list[Any]:
        with self.database.session() as session:
            rows = list(session.execute(query).all())
            session.expunge_all()
            return rows

    def inbound(self, message_id: str) -> InboundMessage:
        [(row,)] = self.rows(select(InboundMessage).where(InboundMessage.message_id == message_id))
        return row  # type: ignore[no-any-return]

    def events(self, call_sid: str, kind: str) -> int:
        query = select(func.count(CallEvent.id)).where(CallEvent.call_sid == call_sid, CallEvent.kind == kind)
        return int(self.rows(query)[0][0])

    def handed_off(self, message_id: str) -> list[Handoff]:
        """The hand-offs of one message once no adapter is left to try (none: it was not handed off)."""
        query = select(Handoff).join(InboundMessage, InboundMessage.id == Handoff.inbound_id)
        query = query.where(InboundMessage.message_id == message_id)
        rows: list[Handoff] = []

        def settled() -> bool:
            rows[:] = [row for (row,) in self.rows(query)]
            return all(row.status != "pending" for row in rows)

        wait_until(f"the hand-offs of {message_id}", settled, timeout=40)
        return rows

    def desk_payloads(self, message_id: str) -> list[dict[str, Any]]:
        return [d.json() for d in self.desk.received if d.json().get("message_id") == message_id]

    def twilio_requests(self) -> int:
        return len(self.proxy.requests) + len(self.conversations.requests)

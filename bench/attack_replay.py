"""The outside security review of issue 13, replayed from outside: every attack the review found a hole
with, against the gateway as production runs it (`bench/production.py`: gunicorn with the gateway's
configuration, a job worker and the scheduler, DEFLECT_ENV=production, Prism as Twilio, a fake Telegram,
a desk), over real HTTP to 127.0.0.1, signed for the https public URL as Twilio signs.

    python -m bench.attack_replay [--json]

Prints, per attack, what the review saw then (issue 13) and what happens now, and whether it held; exit
code 0 when every attack held, 1 otherwise. Everything it starts is stopped and its temporary directory
removed, however it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import edge, pumping, reference_extraction  # noqa: E402
from bench.production import BRAND, SECRET_KEY, SECRETS, WEB_WORKERS, Stack, wait_until  # noqa: E402
from gateway.deflection.outbox import ACCEPTED_STATUSES  # noqa: E402
from gateway.handoff.card import read_card_token  # noqa: E402
from gateway.messaging.deeplinks import prefilled_text  # noqa: E402
from gateway.store.models import Chat, Handoff, InboundMessage, SmsOutbox  # noqa: E402
from tests.support.calls import PUBLIC_BASE, Call, sign  # noqa: E402
from tests.support.guesses import guessed_references, many_references  # noqa: E402
from tests.support.live_client import LiveResponse  # noqa: E402
from tests.support.outage import locked  # noqa: E402
from tests.support.serve import Served  # noqa: E402
from tests.support.twilio_proxy import Fault  # noqa: E402

CALLER = "+79161234567"  # the real caller: accepts the offer, then writes in WhatsApp
LATE_CALLER = "+79265554433"  # accepts; Twilio answers 500, then refuses the number (quoting it)
STRANGERS = {"1b": "+79031112233", "1c": "+79037778899", "1d": "+79035550011", "db": "+79852223344"}
TELEGRAM_STRANGER = 555000111
SECRET_WORDS = ("hunter2", "4276 3800")  # what customers wrote: no message body may reach the log

# What the review saw (issue 13), per attack.
BEFORE = {
    "1a": "one Telegram message, 585 references with the live one: the desk got the attacker's chat with "
    "the caller's story (number, menu choices, card link); the bot echoed the reference",
    "1b": "an SMS from a stranger, 228 guesses with the live one: matched, flagged, took the session",
    "1c": "every reference-shaped word was looked up (about 8 % a message with 2,000 live sessions); a "
    "match from another number took the session, flagged",
    "1d": "nothing limited a sender's failed lookups",
    "1e": "the real caller's own WhatsApp message was stored, but got no acknowledgement and no hand-off",
    "2a": "403 only after the whole form was parsed: 6.2 s CPU and 1.2 GB per request",
    "2b": "the form parsed whole before the signature was checked: 6.2 s CPU, 1.2 GB",
    "2c": "the worker grew to 5.8 GB and was killed: 500",
    "3": "two idle sockets that announced a 100 kB body blocked /healthz for 10 s (sync workers)",
    "4": "checked as if it had no parameters: a URL-only signature was accepted",
    "5a": "X-Request-Id echoed at any length",
    "5b": "the 503 body named internal hosts and ports",
    "6": "a click row written on every GET",
    "7": "no Content-Security-Policy",
    "8": "a Conversations participant request without an address (400 under Twilio's contract)",
    "9": "database errors put full numbers, names and bodies into exc_info; twilio.http_client logged "
    "%2B-encoded numbers at INFO; card links logged at INFO",
    "10a": "accepted whenever DEFLECT_ENV is not production, test included",
    "10b": "accepted with DEFLECT_ENV unset",
    "10c": "accepted in production",
    "11a": "1 MB of text took 69 s (quadratic)",
    "11b": "200 SMS an hour to a 100 k range, then the global caps were spent in ~34 min and offers "
    "stopped for every caller until midnight",
    "12": "`outbox list` / `messaging pause` shut the server's embedded Redis down: /readyz not ready "
    "for good (3 of 3)",
}


@dataclass
class Outcome:
    id: str
    attack: str
    now: str
    held: bool
    figures: dict[str, Any] = field(default_factory=dict)
    before: str = ""


@dataclass(frozen=True)
class Live:
    """A caller's accepted offer: their chat session and the SMS Twilio took ("" if it refused it)."""

    call: Call
    session_id: int
    reference: str
    sms: str


def place_call(stack: Stack, caller: str, *faults: Fault) -> Live:
    """A call through the signed voice webhooks up to Twilio's answer to its SMS: the bank flow, menu 1
    then 2, the offer (at queue position 3 the flow offers at once), accept, agree; the caller leaves the
    queue once Twilio took the SMS. `faults`: Twilio's first answers to the SMS."""
    call = Call(stack.http, caller=caller, queue_position=3, queue_size=5)
    call.press(call.press(call.incoming(), "1"), "2")
    offer = call.wait()
    if not offer.all("Gather"):
        raise RuntimeError(f"no offer was played: {offer.text}")
    stack.proxy.plan("POST", "/Messages.json", *faults)
    sending = call.press(call.press(offer, "1"), "1")
    [(chat,)] = stack.rows(select(Chat).where(Chat.call_sid == call.call_sid))
    outbox = select(SmsOutbox.status).where(SmsOutbox.session_id == chat.id)

    def answered() -> list[str]:
        return [s for (s,) in stack.rows(outbox) if s in ACCEPTED_STATUSES | {"refused"}]

    if wait_until("Twilio's answer to the SMS", answered, timeout=60)[0] in ACCEPTED_STATUSES:

        def left_the_queue() -> bool:
            nonlocal sending
            sending = call.post(sending.find("Redirect").text or "")
            return "Leave" in sending.verbs()

        wait_until("the caller leaving the queue", left_the_queue, timeout=30, every=0.5)
    sms = next((m["body"] for m in stack.proxy.created_messages() if m["to"] == caller), "")
    return Live(call, chat.id, chat.reference, sms)


def guess_list(live: str, count: int, live_at: int) -> str:
    """One message of `count` references, the live one at `live_at`."""
    references = guessed_references(count - 1, seed=13, avoid=live)
    references.insert(live_at, live)
    return many_references(references)


def prefilled(reference: str) -> str:
    return prefilled_text("ru-RU", reference, BRAND)


def reply_of(answer: LiveResponse) -> str:
    """The text of the messages in a TwiML answer to an inbound message."""
    return " ".join(m.text or "" for m in ElementTree.fromstring(answer.text).iter("Message"))


def stranger_got(stack: Stack, live: Live, message_id: str, reply: str) -> tuple[str, bool, dict[str, Any]]:
    """What a stranger's message got: the caller's session or not, what the desk received, the reply."""
    row, handoffs = stack.inbound(message_id), stack.handed_off(message_id)
    payloads = stack.desk_payloads(message_id)
    [(state,)] = stack.rows(select(Chat.state).where(Chat.id == live.session_id))
    taken = row.session_id is not None or state not in ("created", "link_clicked")
    story = any(
        p["session_id"] or any(p["story"][k] for k in ("reference", "caller", "call_sid", "queue"))
        for p in payloads
    )
    story = story or any(s in json.dumps(payloads) for s in (CALLER, live.call.call_sid))
    cards = [
        read_card_token(SECRET_KEY, p["context_card_url"].rsplit("/", 1)[1], 3600, time.time())
        for p in payloads
    ]
    story = story or any(card is None or card.session_id is not None for card in cards)
    echoed = live.reference in reply
    if not payloads:
        desk = "nothing (this sender was handed off earlier today)"
    else:
        desk = "the call's STORY" if story else "a chat of its own, no story, number or card of the call"
    now = (
        f"session {'TAKEN' if taken else 'not taken'} (match {row.match}, flag {row.flagged or '-'}); "
        f"the desk got {desk}; reference {'ECHOED' if echoed else 'not echoed'}"
    )
    figures = {
        "match": row.match,
        "flagged": row.flagged,
        "session_taken": taken,
        "desk_deliveries": len(payloads),
        "story_at_desk": story,
        "reference_echoed": echoed,
        "handoffs": sorted(h.adapter for h in handoffs),
    }
    return now, not (taken or story or echoed), figures


def chat_hijack(stack: Stack, live: Live) -> list[Outcome]:
    results = []
    name = "chat hijack: Telegram, 585 references in one message"
    message_id, reply = stack.telegram_message(guess_list(live.reference, 585, 292), TELEGRAM_STRANGER)
    results.append(Outcome("1a", name, *stranger_got(stack, live, message_id, reply)))

    name = "chat hijack: SMS from a stranger, 228 guesses"
    message_id, answer = stack.message(guess_list(live.reference, 228, 114), STRANGERS["1b"], "sms")
    results.append(Outcome("1b", name, *stranger_got(stack, live, message_id, reply_of(answer))))

    name = "chat hijack: WhatsApp, 228 guesses, the live one first"
    quoted = stack.events(live.call.call_sid, "chat.reference_quoted")
    message_id, answer = stack.message(guess_list(live.reference, 228, 0), STRANGERS["1c"])
    now, held, figures = stranger_got(stack, live, message_id, reply_of(answer))
    noted = stack.events(live.call.call_sid, "chat.reference_quoted") - quoted
    held = held and figures["flagged"] == "reference_from_other_number" and noted == 1
    results.append(
        Outcome("1c", name, f"{now}; the call notes chat.reference_quoted x{noted}", held, figures)
    )

    name = "chat hijack: one guess a message until the limit, then the right reference"
    sent = 0
    for guess in guessed_references(50, seed=5, avoid=live.reference):
        message_id, _ = stack.message(prefilled(guess), STRANGERS["1d"])
        sent += 1
        if stack.inbound(message_id).flagged == "too_many_failed_lookups":
            break
    quoted = stack.events(live.call.call_sid, "chat.reference_quoted")
    message_id, answer = stack.message(prefilled(live.reference), STRANGERS["1d"])
    now, held, figures = stranger_got(stack, live, message_id, reply_of(answer))
    looked_up = stack.events(live.call.call_sid, "chat.reference_quoted") - quoted
    held = held and sent <= 10 and figures["flagged"] == "too_many_failed_lookups" and not looked_up
    now = f"limited at message {sent}; then the right reference: {now}"
    results.append(Outcome("1d", name, now, held, figures | {"limited_at_message": sent}))
    return results + [caller_gets_the_session(stack, live)]


def caller_gets_the_session(stack: Stack, live: Live) -> Outcome:
    message_id, answer = stack.message(prefilled(live.reference), CALLER, ProfileName="Анна")
    row, reply = stack.inbound(message_id), reply_of(answer)
    delivered = sorted(h.adapter for h in stack.handed_off(message_id) if h.status == "delivered")
    story = next(iter(stack.desk_payloads(message_id)), {}).get("story") or {}
    [(state,)] = stack.rows(select(Chat.state).where(Chat.id == live.session_id))
    acknowledged = "видит детали вашего звонка" in reply and live.reference in reply
    taken = row.session_id == live.session_id
    held = acknowledged and taken and state == "handed_off" and story.get("caller") == CALLER
    held = held and delivered == ["card", "conversations", "webhook"]
    choices, adapters = " → ".join(story.get("menu_choices") or ["NONE"]), ", ".join(delivered) or "NONE"
    now = (
        f"session {'taken' if taken else 'NOT taken'} ({row.match}); acknowledged "
        f"{'with' if acknowledged else 'WITHOUT'} the reference; handed off to {adapters}"
        f"; the desk's story: {choices}, queue {story.get('queue')}, position {story.get('position')}; "
        f"session {state}"
    )
    return Outcome("1e", "the real caller's own WhatsApp message, afterwards", now, held, {"state": state})


def body_limits(stack: Stack) -> list[Outcome]:
    workers = edge.workers_of(stack.gunicorn.pid)
    refused = edge.big_bodies(stack.port, stack.gunicorn.pid)
    alive = edge.healthz(stack.port, 5.0) is not None and edge.workers_of(stack.gunicorn.pid) == workers
    results = []
    for key, expected, (name, r) in zip(("2a", "2b", "2c"), (403, 413, 413), refused, strict=True):
        held = f" {expected} " in r["status"] and r["seconds"] < 1 and r["cpu_s"] < 1
        now = (
            f"{r['status'].removeprefix('HTTP/1.1 ')} in {r['seconds'] * 1000:.0f} ms, {r['sent_mb']:.1f} MB "
            f"sent by then; the worker's CPU {r['cpu_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB"
        )
        if key == "2c":
            held = held and alive
            now += "; the same workers live and /healthz answers" if alive else "; a worker DIED"
        results.append(Outcome(key, f"body limit: {name}", now, held, r))
    return results


def slow_clients(stack: Stack, count: int = 50) -> Outcome:
    r = edge.slow_clients(stack.port, count)
    held = r["answered"] == "5/5" and r["max_ms"] is not None and r["max_ms"] < 1000
    now = f"/healthz answered {r['answered']} while they were held: median {r['median_ms']:.1f} ms, "
    now += f"max {r['max_ms']:.1f} ms ({WEB_WORKERS} gevent workers)"
    return Outcome("3", f"slow clients: {count} sockets announce 100 kB, send nothing", now, held, r)


def content_type(stack: Stack) -> Outcome:
    path = "/twilio/voice/incoming"
    parts = {"CallSid": (None, "CA" + "7" * 32), "From": (None, CALLER), "To": (None, "+74952223344")}
    headers = {"X-Twilio-Signature": sign(PUBLIC_BASE + path, {})}
    answer = stack.http.post(path, files=parts, headers=headers)
    now = f"{answer.status_code} {answer.text.strip()}"
    return Outcome("4", "multipart body, signature over the URL only", now, answer.status_code == 415)


def request_id(stack: Stack) -> Outcome:
    answers = {
        size: stack.http.get("/healthz", headers={"X-Request-Id": "r" * size}) for size in (10240, 8000)
    }
    echoed = {size: len(answer.headers.get("X-Request-Id", "")) for size, answer in answers.items()}
    now = "; ".join(
        f"{size} B: {a.status_code}, X-Request-Id answered: {echoed[size]} characters"
        for size, a in answers.items()
    )
    held = all(length <= 128 for length in echoed.values())
    return Outcome("5a", "X-Request-Id of 10 kB (and 8 kB, under gunicorn's header limit)", now, held)


def readyz_without_redis(stack: Stack) -> Outcome:
    stack.redis.stop()
    try:
        answer = stack.http.get("/readyz")
    finally:
        stack.redis.start()
    internal = ("127.0.0.1", "localhost", "redis://", f":{stack.redis.port}", str(stack.work))
    named = [s for s in internal if s in answer.text]
    down = sorted(name for name, check in json.loads(answer.text)["checks"].items() if not check["ok"])
    back = wait_until("ready again", lambda: stack.http.get("/readyz").status_code == 200, timeout=30)
    held = answer.status_code == 503 and down == ["redis"] and not named
    now = f"{answer.status_code} naming {', '.join(down)} down; internal details in it: {named or 'none'}"
    now += f"; ready again once Redis is back: {'yes' if back else 'NO'}"
    return Outcome("5b", "/readyz with Redis stopped", now, held, {"body": answer.text})


def short_link(stack: Stack, live: Live) -> list[Outcome]:
    found = re.search(r"/l/([A-Za-z0-9_-]+)", live.sms)
    if found is None:
        raise RuntimeError(f"no /l/ link in the SMS: {live.sms!r}")
    answers = [stack.http.get(f"/l/{found.group(1)}") for _ in range(20)]
    clicks = stack.events(live.call.call_sid, "link.clicked")
    statuses = sorted({a.status_code for a in answers})
    policy = answers[0].headers.get("Content-Security-Policy", "")
    directives = dict((part.split() + [""])[:2] for part in policy.split(";") if part.strip())
    strict = directives.get("default-src") == directives.get("frame-ancestors") == "'none'"
    strict = strict and not any(s in policy for s in ("unsafe", "*", "http:", "script-src"))
    now = f"answered {statuses}; link.clicked events written: {clicks}"
    return [
        Outcome(
            "6", "20 GETs of the caller's /l/<token>, from the SMS", now, clicks == 1, {"clicks": clicks}
        ),
        Outcome("7", "the link page's Content-Security-Policy", policy or "NONE", strict),
    ]


def empty_from(stack: Stack) -> Outcome:
    wait_until(
        "a quiet moment", lambda: not stack.rows(select(Handoff.id).where(Handoff.status == "pending"))
    )
    before, seen, held = stack.twilio_requests(), [], True
    for sender in ("", "whatsapp:"):
        message_id, answer = stack.message("Здравствуйте, карта не работает", "", "sms", From=sender)
        row = stack.inbound(message_id)
        handoffs = stack.rows(select(Handoff.id).where(Handoff.inbound_id == row.id))
        held = held and answer.status_code == 400 and row.match == "refused" and not handoffs
        seen.append(f"From={sender!r}: {answer.status_code} {answer.text.strip()}, stored as {row.match}")
    time.sleep(3)  # what a worker would send meanwhile
    sent = stack.twilio_requests() - before
    now = "; ".join(seen) + f"; hand-offs: none; requests to Twilio: {sent}"
    return Outcome("8", "signed inbound message with an empty From", now, held and sent == 0)


def failing_paths(stack: Stack) -> dict[str, Any]:
    """The database locked while a chat and a call come in; Twilio answering 500, then refusing."""
    with locked(stack.sqlite):
        _, chat = stack.message("Мой пароль hunter2 к карте 4276 3800 не подходит", STRANGERS["db"])
        call = Call(stack.http, caller=STRANGERS["db"]).incoming()
    sender = InboundMessage.sender == f"whatsapp:{STRANGERS['db']}"
    wait_until("the parked chat replayed", lambda: stack.rows(select(InboundMessage.id).where(sender)), 40)
    refusal = f"The 'To' number {LATE_CALLER} is not a valid phone number."  # as Twilio words it
    late = place_call(stack, LATE_CALLER, Fault.error(500), Fault.error(400, 21211, refusal))
    stack.message(prefilled(late.reference) + ", мой пароль hunter2", LATE_CALLER)
    provider = [r.status for r in stack.proxy.requests if r.fault is not None]
    return {"chat": chat.status_code, "call": f"{call.status} {'/'.join(call.verbs())}", "provider": provider}


def logs(stack: Stack) -> Outcome:
    failed = failing_paths(stack)
    time.sleep(2)  # the last lines
    raw = stack.log.read_text(errors="replace")
    decoded = []
    for line in raw.splitlines():
        try:
            decoded.append(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            decoded.append(line)
    text = raw + "\n".join(decoded)
    link_tokens = [token for (token,) in stack.rows(select(Chat.link_token))]
    cards = [h.payload["context_card_url"].rsplit("/", 1)[1] for (h,) in stack.rows(select(Handoff))]
    hits = {  # a number's national digits are in +7916..., %2B7916..., 7916... and whatsapp:+7916...
        "full numbers": sum(text.count(n[2:]) for n in (CALLER, LATE_CALLER, *STRANGERS.values())),
        "message bodies": sum(text.count(b[:40]) for b in stack.bodies) + sum(map(text.count, SECRET_WORDS)),
        "bearer tokens": sum(text.count(t) for t in link_tokens + cards)
        + len(re.findall(r"/(?:l|card)/(?!\[token\])[A-Za-z0-9_-]{8,}", text)),
        "secrets": sum(map(text.count, SECRETS)),
    }
    seen = {
        "lines": len(raw.splitlines()),
        "tracebacks": raw.count("Traceback (most recent call last)"),
        "masked numbers": len(re.findall(r"\+7\d{3}\*{5}\d{2}", text)),
        "parked": raw.count("parking it"),
    }
    # The failing paths ran and numbers reached the log, masked: the zeros are not those of an empty log.
    ran = seen["parked"] and seen["masked numbers"] and {500, 400} <= set(failed["provider"])
    now = ", ".join(f"{k}: {v}" for k, v in hits.items()) + f" in {seen['lines']} lines ("
    now += ", ".join(f"{k}: {v}" for k, v in seen.items() if k != "lines")
    now += f"; locked database: chat {failed['chat']}, call {failed['call']}; Twilio {failed['provider']})"
    name = "the log of every process after all of the above, a locked database, Twilio 500 and 400"
    return Outcome("9", name, now, bool(ran) and not any(hits.values()), hits | seen | failed)


def startup_refusals(work: Path) -> list[Outcome]:
    skip = {"DEFLECT_SKIP_SIGNATURE_CHECK": "true", "PUBLIC_BASE_URL": PUBLIC_BASE}
    http = {
        "DEFLECT_ENV": "production",
        "PUBLIC_BASE_URL": "http://voice.example.test",
        "SECRET_KEY": SECRET_KEY,
    }
    named = "DEFLECT_SKIP_SIGNATURE_CHECK"  # what the one line must name
    cases = [
        ("10a", f"{named} with DEFLECT_ENV=test", named, skip | {"DEFLECT_ENV": "test"}),
        ("10b", f"{named} with DEFLECT_ENV unset", named, skip),
        ("10c", "an http:// PUBLIC_BASE_URL in production", "PUBLIC_BASE_URL", http),
    ]
    results = []
    for key, name, variable, env in cases:
        (work / key).mkdir(parents=True)
        served = Served(work / key, **env)
        try:
            code: int | None = served.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        left = served.leftovers()
        served.close()
        lines = [line for line in served.output().splitlines() if line.strip()]
        held = code == 78 and len(lines) == 1 and variable in lines[0] and not left
        now = f"`deflect serve` exit {code}, {len(left)} processes left: {' | '.join(lines)}"
        results.append(Outcome(key, f"start-up: {name}", now, held))
    return results


def reading_and_pumping() -> list[Outcome]:
    inputs = reference_extraction.INPUTS
    seconds = {
        name: reference_extraction.median_seconds(build(1_000_000), 3) for name, build in inputs.items()
    }
    worst = max(seconds, key=seconds.__getitem__)
    now = f"at most {seconds[worst] * 1e6:.0f} µs ({worst}); all sizes: python -m bench.reference_extraction"
    reading = Outcome(
        "11a", "reference extraction: a 1 MB hostile message", now, seconds[worst] < 0.05, seconds
    )
    rows = pumping.measure(hours=1)
    before, now_ = (max(row[k] for row in rows) for k in ("before_first_hour", "now_first_hour"))
    limit = pumping.before_and_now()[1].per_ndc_hour
    now = f"at most {now_} SMS in the first hour (the same claim as before: {before}), 6 attackers on a real "
    now += "Redis; a whole day: python -m bench.pumping"
    return [reading, Outcome("11b", "SMS pumping: a 100 k range", now, now_ <= limit, {"rows": rows})]


def embedded_default(work: Path) -> Outcome:
    work.mkdir(parents=True)
    served = Served(work, "--web-workers", "1")
    try:
        served.wait_ready()
        seen = []
        for command in (
            ["inbox", "list"],
            ["messaging", "pause", "-m", "attack replay"],
            ["messaging", "resume"],
        ):
            cli = [sys.executable, "-m", "gateway.cli", *command]
            done = subprocess.run(cli, env=served.env, capture_output=True, timeout=60)
            ready = (served.readiness() or {}).get("status")
            seen.append(f"{' '.join(command)}: exit {done.returncode}, then /readyz {ready}")
        code, left = served.stop(), served.leftovers()
    finally:
        served.close()
    held = all(line.endswith("exit 0, then /readyz ready") for line in seen) and code == 0 and not left
    now = "; ".join(seen) + f"; serve stopped with exit {code}, {len(left)} processes left"
    return Outcome("12", "embedded default: `deflect serve`, the CLI beside it", now, held)


def not_run(key: str, exc: Exception) -> Outcome:
    """An attack that could not be carried out has not shown that the gateway holds."""
    return Outcome(key, "(not run)", f"NOT RUN: {type(exc).__name__}: {exc}"[:400], False)


def attempt(key: str, run: Callable[[], Outcome | list[Outcome]]) -> list[Outcome]:
    try:
        result = run()
    except Exception as exc:
        return [not_run(key, exc)]
    return result if isinstance(result, list) else [result]


def replay() -> list[Outcome]:
    work = Path(tempfile.mkdtemp(prefix="deflect-replay-"))
    results: list[Outcome] = []
    try:
        with ExitStack() as exits:
            (work / "gateway").mkdir()
            stack = Stack(work / "gateway", exits)
            try:
                live = place_call(stack, CALLER)
            except Exception as exc:  # no session to attack: the rest can still be tried
                results += [not_run("1", exc), not_run("6", exc)]
            else:
                results += attempt("6", lambda: short_link(stack, live))
                results += attempt("1", lambda: chat_hijack(stack, live))
            results += attempt("8", lambda: empty_from(stack))
            results += attempt("4", lambda: content_type(stack))
            results += attempt("5a", lambda: request_id(stack))
            results += attempt("2", lambda: body_limits(stack))
            results += attempt("3", lambda: slow_clients(stack))
            results += attempt("5b", lambda: readyz_without_redis(stack))
            results += attempt("9", lambda: logs(stack))
        results += attempt("10", lambda: startup_refusals(work))
        results += attempt("11", reading_and_pumping)
        results += attempt("12", lambda: embedded_default(work / "serve"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    order = list(BEFORE)
    results.sort(key=lambda r: order.index(next(k for k in order if k.startswith(r.id))))
    for result in results:
        result.before = BEFORE.get(result.id, "")
    return results


def table(results: list[Outcome]) -> str:
    widths = (4, 28, 44, 64, 5)
    rows = [
        ("", "attack", "review saw", "now", "held?"),
        *((r.id, r.attack, r.before, r.now, "yes" if r.held else "NO") for r in results),
    ]
    lines = []
    for n, row in enumerate(rows):
        cells = [textwrap.wrap(text, width) or [""] for text, width in zip(row, widths, strict=True)]
        for i in range(max(map(len, cells))):
            lines.append(
                " | ".join(
                    f"{(c[i] if i < len(c) else ''):{w}}" for c, w in zip(cells, widths, strict=True)
                ).rstrip()
            )
        lines.append("-+-".join("-" * w for w in widths) if n == 0 else "")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="the results as JSON")
    args = parser.parse_args()
    started = time.monotonic()
    results = replay()
    held = sum(r.held for r in results)
    if args.json:
        print(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2, default=str))
    else:
        print(
            f"issue 13's attacks over HTTP: gunicorn -c python:gateway.gunicorn_config -w {WEB_WORKERS} "
            f"(gevent), deflect worker + scheduler, DEFLECT_ENV=production, SQLite, Prism as Twilio; "
            f"{os.cpu_count()} cores, {time.monotonic() - started:.0f} s\n"
        )
        print(table(results))
        print(f"{held} of {len(results)} attacks held")
    sys.exit(0 if held == len(results) else 1)


if __name__ == "__main__":
    main()

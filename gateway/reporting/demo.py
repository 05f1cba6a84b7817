"""Demo data for the reports: realistic synthetic calls of the shipped flows (`deflect demo seed`).

Each call is generated as the events the gateway records for it (the same kinds and data as
`gateway.calls`, `gateway.flows.wait`, `gateway.deflection` and `gateway.handoff` emit) and its
`calls` row, over the last days before the clock's now: busier 9-18 local on weekdays, fewer on
Saturdays, none on Sundays (both flows are closed), offers after 45 s (ru) / 60 s (en), and rates near
what a deflection line sees: ~60 % of calls offered, ~30 % of those accept, ~90 % consent, ~97 % of SMS
taken by the provider, ~92 % delivered, ~55 % clicked, ~85 % of clicks start a chat, most handed off;
refusals (landline, opted out, region, withheld number, offers paused); undelivered SMS with Twilio's
error codes; some callers calling again within a day or a week (the abandoned more often, the
deflected less); an experiment on the bank's cards queue for the last weeks.

Two ways to write them:

- events (the default up to `EVENTS_LIMIT` calls): the `calls` rows and every event through the call
  log's own `event_rows` / `add_event_rows`, then the real fold (`Reports.refresh`): the real path.
- facts only (`--facts-only`, for the benchmark's million calls): each call's events are folded in
  memory with the projector's own pure functions (`facts.fold`, `contribution`, `slice_key`) and the
  `calls`, `call_facts` and summed `report_hours` rows are written in bulk. The events themselves are
  NOT stored (a million calls are ten million event rows): the reports' figures are the same
  (tests/reporting/test_demo.py compares both ways), but `deflect report rebuild`, which folds the
  events again, would drop these calls from the reports.

Demo calls are told apart by their SID (`DEMO_SID_PREFIX`; Twilio's are random). Seeding refuses a
database that holds other calls: demo data would be mixed into real reports.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from gateway.events import Event
from gateway.reporting.facts import KINDS as FACT_KINDS
from gateway.reporting.facts import Fact, SliceKey, contribution, fold, slice_key
from gateway.reporting.projector import add_sums
from gateway.reporting.service import Reports
from gateway.store.call_log import add_event_rows, event_rows
from gateway.store.models import Call, CallFact, report_hours

DEMO_SID_PREFIX = "CA0000000000"  # then 22 hex digits; a real SID starts so once in 10^12
EVENTS_LIMIT = 50_000  # above this, facts only unless asked otherwise
BATCH = 2000  # calls per transaction
EXPERIMENT = "offer-wording"

Progress = Callable[[int], None]


class RealCallsPresent(RuntimeError):
    """The database holds calls that are not demo calls."""


@dataclass(frozen=True)
class Line:
    """One shipped flow as the demo calls it."""

    flow_id: str
    locale: str
    called: str
    zone: ZoneInfo
    share: float  # of all calls
    queues: tuple[tuple[str, str, float], ...]  # (queue, its enqueue step, share)
    hours: dict[int, tuple[int, int]]  # weekday -> [open, close) local hour
    offer_after: int
    repeat_every: int
    channels: tuple[str, ...]
    sms_template: str
    segments: int  # of the link SMS (Cyrillic: UCS-2, two)


LINES = (
    Line(
        "ru-bank-support",
        "ru-RU",
        "+74952223344",
        ZoneInfo("Europe/Moscow"),
        0.75,
        (
            ("bank-cards", "cards_queue", 0.5),
            ("bank-loans", "loans_queue", 0.3),
            ("bank-other", "other_queue", 0.2),
        ),
        {0: (9, 21), 1: (9, 21), 2: (9, 21), 3: (9, 21), 4: (9, 21), 5: (10, 18)},
        45,
        120,
        ("whatsapp", "telegram"),
        "channel_choice",
        2,
    ),
    Line(
        "en-support",
        "en-US",
        "+14155550123",
        ZoneInfo("America/New_York"),
        0.25,
        (("billing", "billing_queue", 0.4), ("support", "tech_queue", 0.6)),
        {0: (8, 20), 1: (8, 20), 2: (8, 20), 3: (8, 20), 4: (8, 20), 5: (9, 17)},
        60,
        180,
        ("whatsapp",),
        "whatsapp_link",
        1,
    ),
)
# The shape of a day: relative calls per local hour (a morning and an afternoon peak, 9-18 busiest).
HOUR_WEIGHT = {
    8: 0.5, 9: 1.0, 10: 1.5, 11: 1.6, 12: 1.3, 13: 1.2, 14: 1.5, 15: 1.5, 16: 1.3, 17: 1.1,
    18: 0.7, 19: 0.5, 20: 0.35,
}  # fmt: skip
SATURDAY = 0.45
# Why no offer was made, and how often (of all calls): the gateway's own reason codes.
REFUSALS = (
    ("not_mobile", 0.045),  # a landline
    ("region_not_allowed", 0.02),  # a foreign mobile
    ("no_number", 0.02),  # caller ID withheld
    ("opted_out", 0.015),
    ("messaging_paused", 0.015),
)
SMS_ERRORS = ((30003, 0.35), (30005, 0.25), (30006, 0.15), (30007, 0.25))  # undelivered, and why
RECONTACT = 0.13  # share of calls that are a number calling again
# How likely a call's caller calls again, by how it ended (relative).
CALLS_AGAIN = {"deflected": 0.35, "agent": 0.8, "abandoned": 2.0, "other": 1.5}


@dataclass
class Seeded:
    calls: int
    events: int
    facts: int
    facts_only: bool
    first: datetime | None = None
    last: datetime | None = None
    report_hours: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "mode": "facts-only" if self.facts_only else "events",
            "events": self.events,
            "facts": self.facts,
            "report_hours": self.report_hours,
            "first_call": self.first.isoformat() if self.first else None,
            "last_call": self.last.isoformat() if self.last else None,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


@dataclass
class DemoCall:
    row: dict[str, Any]  # the `calls` row
    events: list[tuple[str, dict[str, Any], datetime]]  # in time order
    outcome: str  # deflected | agent | abandoned | other


def real_calls(reports: Reports) -> int:
    with reports.database.session() as session:
        found = session.scalar(
            select(func.count()).select_from(Call).where(Call.call_sid.not_like(f"{DEMO_SID_PREFIX}%"))
        )
    return int(found or 0)


def seed(
    reports: Reports,
    calls: int,
    days: int = 30,
    seed: int = 1,
    facts_only: bool | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Seeded:
    """Write `calls` demo calls over the last `days` days before the clock's now. `facts_only`: None
    chooses by size (`EVENTS_LIMIT`). Raises RealCallsPresent on a database with other calls (unless
    `force`). `progress` is told how many calls (then, with events, how many folded) as it goes."""
    if calls < 1 or days < 1:
        raise ValueError("at least one call over at least one day")
    if not force:
        found = real_calls(reports)
        if found:
            raise RealCallsPresent(
                f"the database holds {found} calls that are not demo calls: demo data would be mixed "
                "into their reports (seed an empty database, or --force)"
            )
    only_facts = calls > EVENTS_LIMIT if facts_only is None else facts_only
    with reports.database.session() as session:
        salt = int(session.scalar(select(func.count()).select_from(Call)) or 0)  # a second seed: new SIDs
    generated = generate(calls, days, seed, reports.clock.now(), salt)
    if only_facts:
        done = _write_facts(reports, generated, progress)
    else:
        done = _write_events(reports, generated, progress)
    with reports.database.session() as session:
        done.report_hours = int(session.scalar(select(func.count()).select_from(report_hours)) or 0)
    return done


# -- generation ------------------------------------------------------------------------------------


def generate(calls: int, days: int, seed: int, now: datetime, salt: int = 0) -> Iterator[DemoCall]:
    """The calls, oldest first, deterministic for a seed and a now."""
    rng = random.Random(seed)
    starts = _start_times(rng, calls, days, now)
    by_line: dict[str, tuple[list[int], list[int]]] = {line.flow_id: ([], []) for line in LINES}
    callers: list[str | None] = []
    outcomes: list[str] = []
    numbers = _Numbers(rng)
    switch = now.timestamp() - days * 86400 * 0.4  # the flows' version 2 from here on
    trial = now.timestamp() - min(21, days / 3) * 86400  # the experiment runs from here on
    for index, (start, line) in enumerate(starts):
        seen_starts, seen_index = by_line[line.flow_id]
        caller = _again(rng, start, seen_starts, seen_index, callers, outcomes)
        refusal = ""
        if caller is None:
            refusal = _draw(rng, REFUSALS, "")
            caller = numbers.draw(line, refusal)
        elif numbers.refusal_of(caller):
            refusal = numbers.refusal_of(caller)
        elif rng.random() < 0.015:
            refusal = "messaging_paused"
        sid = DEMO_SID_PREFIX + hashlib.sha256(f"{seed}:{salt}:{index}".encode()).hexdigest()[:22]
        version = 2 if start >= switch else 1
        queue, step = _queue(rng, line)
        variant = ""
        if line.flow_id == "ru-bank-support" and queue == "bank-cards" and start >= trial:
            variant = "short" if rng.random() < 0.5 else "control"
        call = _call(rng, sid, index + 1, line, version, queue, step, variant, caller, refusal, start)
        callers.append(caller)
        outcomes.append(call.outcome)
        seen_starts.append(start)
        seen_index.append(index)
        yield call


def _start_times(rng: random.Random, calls: int, days: int, now: datetime) -> list[tuple[int, Line]]:
    """When each call starts (whole seconds), in the lines' opening hours shaped by `HOUR_WEIGHT`."""
    latest = now.timestamp() - 6 * 3600  # every call and its chat are over by now
    earliest = now.timestamp() - days * 86400
    slots: list[tuple[int, Line]] = []
    weights: list[float] = []
    for line in LINES:
        day = datetime.fromtimestamp(earliest, line.zone).date()
        last = datetime.fromtimestamp(latest, line.zone).date()
        while day <= last:
            opening = line.hours.get(day.weekday())
            if opening is not None:
                for hour in range(*opening):
                    at = _local(day, hour, line.zone)
                    if earliest <= at and at + 3600 <= latest:
                        slots.append((at, line))
                        weights.append(
                            line.share * HOUR_WEIGHT.get(hour, 0.3) * (SATURDAY if day.weekday() == 5 else 1)
                        )
            day += timedelta(days=1)
    if not slots:
        raise ValueError("no opening hours in the period: seed more days")
    chosen = rng.choices(slots, weights, k=calls)
    return sorted(((at + rng.randrange(3600), line) for at, line in chosen), key=lambda s: s[0])


def _local(day: date, hour: int, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=zone).timestamp())


def _again(
    rng: random.Random,
    start: int,
    seen_starts: list[int],
    seen_index: list[int],
    callers: list[str | None],
    outcomes: list[str],
) -> str | None:
    """A caller who called this line before and calls again (within a day, or a week), or None."""
    if not seen_starts or rng.random() >= RECONTACT:
        return None
    window = 86400 if rng.random() < 0.55 else 7 * 86400
    first = bisect.bisect_left(seen_starts, start - window)
    for _ in range(4):
        if first >= len(seen_starts):
            return None
        pick = rng.randrange(first, len(seen_starts))
        earlier = seen_index[pick]
        caller = callers[earlier]
        if seen_starts[pick] < start and caller and rng.random() < CALLS_AGAIN[outcomes[earlier]] / 2:
            return caller
    return None


class _Numbers:
    """Callers' numbers, E.164 in ranges phonenumbers holds valid (RU 916/903/925 and KZ 777/701
    mobiles, Moscow landlines, US numbers; BY / FR mobiles as foreign), never the same twice unless a
    caller calls again. A number's refusal (landline, foreign, opted out) stays with it."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.given: set[str] = set()
        self.refusals: dict[str, str] = {}

    def draw(self, line: Line, refusal: str) -> str | None:
        if refusal == "no_number":
            return None
        while True:
            number = self._number(line, refusal)
            if number not in self.given:
                self.given.add(number)
                if refusal in ("not_mobile", "region_not_allowed", "opted_out"):
                    self.refusals[number] = refusal
                return number

    def refusal_of(self, number: str) -> str:
        return self.refusals.get(number, "")

    def _number(self, line: Line, refusal: str) -> str:
        n = self.rng.randrange
        if refusal == "region_not_allowed":
            return (
                f"+37529{n(1000000, 9999999)}" if line.locale == "ru-RU" else f"+336{n(10000000, 99999999)}"
            )
        if line.locale == "ru-RU":
            if refusal == "not_mobile":
                return f"+7495{n(2000000, 9999999)}"
            prefix = (
                self.rng.choice(("916", "903", "925", "926", "977"))
                if n(10) < 9
                else self.rng.choice(("777", "701"))
            )
            return f"+7{prefix}{n(1000000, 9999999)}"
        area = self.rng.choice(("212", "312", "415", "617", "646", "718"))
        return f"+1{area}{n(200, 999)}{n(1000, 9999)}"


def _queue(rng: random.Random, line: Line) -> tuple[str, str]:
    draw = rng.random()
    for queue, step, share in line.queues:
        if draw < share:
            return queue, step
        draw -= share
    return line.queues[-1][0], line.queues[-1][1]


def _draw(rng: random.Random, table: tuple[tuple[Any, float], ...], otherwise: Any) -> Any:
    draw = rng.random()
    for value, share in table:
        if draw < share:
            return value
        draw -= share
    return otherwise


def _region(caller: str | None) -> str | None:
    if caller is None:
        return None
    prefixes = (("+1", "US"), ("+375", "BY"), ("+33", "FR"), ("+77", "KZ"))
    return next((region for prefix, region in prefixes if caller.startswith(prefix)), "RU")


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _call(
    rng: random.Random,
    sid: str,
    outbox_id: int,
    line: Line,
    version: int,
    queue: str,
    step: str,
    variant: str,
    caller: str | None,
    refusal: str,
    start: int,
) -> DemoCall:
    """One call's events, as the gateway records them, from its start to its end (and its chat)."""
    events: list[tuple[str, dict[str, Any], datetime]] = []

    def add(kind: str, data: dict[str, Any], seconds: int) -> None:
        events.append((kind, data, _at(seconds)))

    mobile = refusal not in ("not_mobile", "no_number")
    add(
        "call.started",
        {
            "flow_id": line.flow_id,
            "flow_version": version,
            "caller_known": caller is not None,
            "caller_region": _region(caller),
            "caller_number_type": None if caller is None else ("mobile" if mobile else "fixed_line"),
            "stir_verstat": None,
        },
        start,
    )
    entered = start + rng.randint(12, 40)  # greeting and menu
    add("menu.choice", {"step": "main_menu", "digit": None, "next": step}, entered - 1)
    add("queue.enqueued", {"step": step, "queue": queue}, entered)
    if variant:
        add("experiment.assigned", {"experiment": EXPERIMENT, "variant": variant, "queue": queue}, entered)
    position = max(1, int(rng.gammavariate(2.0, 4.0)))
    add(
        "wait.announce",
        {"queue": queue, "position": position, "avg_wait_seconds": 60 * position, "said": ["position"]},
        entered + 2,
    )
    t = entered + line.offer_after + rng.randint(0, 15)
    outcome: str
    if refusal:
        add("offer.refused", {"reason": refusal, "queue": queue}, t)
        end, outcome = _leave(rng, events, queue, entered, t + rng.randint(30, 600), 0.75)
    elif position < 3 or rng.random() < 0.2:  # answered (or gone) before an offer was due
        end, outcome = _leave(
            rng, events, queue, entered, entered + rng.randint(5, line.offer_after - 1), 0.85
        )
    else:
        end, outcome = _offers(rng, events, line, version, queue, variant, entered, position, t, outbox_id)
    add("call.status", {"status": "completed", "duration": end - start}, end)
    row = {
        "call_sid": sid,
        "caller": caller,
        "called": line.called,
        "flow_id": line.flow_id,
        "flow_version": version,
        "locale": line.locale,
        "started_at": _at(start),
        "ended_at": _at(end),
        "status": "completed",
        "queue": queue,
        "outcome": {"agent": "answered", "other": "queue-full"}.get(outcome, outcome),
    }
    events.sort(key=lambda e: e[2])
    return DemoCall(row, events, outcome)


def _leave(
    rng: random.Random,
    events: list[tuple[str, dict[str, Any], datetime]],
    queue: str,
    entered: int,
    left: int,
    answered: float,
) -> tuple[int, str]:
    """The caller leaves the queue: to an agent (then talks), hanging up, or the queue full."""
    draw = rng.random()
    result, outcome = ("bridged", "agent") if draw < answered else ("hangup", "abandoned")
    if draw > 0.985:
        result, outcome = "queue-full", "other"
    data = {"result": result, "queue": queue, "deflected": False, "waited_seconds": left - entered}
    events.append(("queue.result", data, _at(left)))
    return left + (rng.randint(90, 720) if outcome == "agent" else 1), outcome


def _offers(
    rng: random.Random,
    events: list[tuple[str, dict[str, Any], datetime]],
    line: Line,
    version: int,
    queue: str,
    variant: str,
    entered: int,
    position: int,
    t: int,
    outbox_id: int,
) -> tuple[int, str]:
    """One offer, a second after no answer, and what follows an acceptance."""
    accept = 0.30 + (0.03 if version == 2 else 0) + (0.05 if variant == "short" else 0)
    for number in (1, 2):
        offer = {"queue": queue, "number": number, "waited_seconds": t - entered, "position": position}
        events.append(("offer.played", {**offer, "channels": list(line.channels)}, _at(t)))
        answered = t + rng.randint(4, 12)
        if rng.random() < (accept if number == 1 else accept / 3):
            data = {**offer, "digit": "1", "channels": list(line.channels), "sms_template": line.sms_template}
            events.append(("offer.accepted", data, _at(answered)))
            return _accepted(rng, events, line, queue, entered, answered, outbox_id)
        no_input = rng.random() < 0.4
        declined = {
            **offer,
            "digit": None if no_input else "2",
            "reason": "no_input" if no_input else "other_digit",
        }
        events.append(("offer.declined", declined, _at(answered)))
        if not no_input or rng.random() < 0.5:
            break
        t += line.repeat_every
    return _leave(rng, events, queue, entered, t + rng.randint(20, 900), 0.72)


def _accepted(
    rng: random.Random,
    events: list[tuple[str, dict[str, Any], datetime]],
    line: Line,
    queue: str,
    entered: int,
    t: int,
    outbox_id: int,
) -> tuple[int, str]:
    def add(kind: str, data: dict[str, Any], seconds: int) -> None:
        events.append((kind, data, _at(seconds)))

    t += rng.randint(10, 25)  # the consent prompt
    if rng.random() >= 0.90:
        kind = "consent.declined" if rng.random() < 0.6 else "consent.no_input"
        add(kind, {"queue": queue}, t)
        return _leave(rng, events, queue, entered, t + rng.randint(30, 600), 0.75)
    add("consent.granted", {"keyed_number": rng.random() < 0.04}, t)
    add("sms.queued", {"outbox_id": outbox_id}, t)
    t += rng.randint(1, 3)
    if rng.random() >= 0.97:  # the provider would not take it
        code = rng.choice((21610, 21614, 21408))
        add("sms.sent", {"outbox_id": outbox_id, "status": "refused", "error_code": code}, t)
        add("sms.refused", {"outbox_id": outbox_id, "error_code": code}, t + 1)
        return _leave(rng, events, queue, entered, t + rng.randint(30, 600), 0.75)
    segments = line.segments
    add("sms.sent", {"outbox_id": outbox_id, "status": "queued", "error_code": None, "segments": segments}, t)
    add("sms.accepted", {"outbox_id": outbox_id, "status": "queued"}, t + 1)
    add("deflection.left", {"queue": queue}, t + 1)
    left = t + rng.randint(5, 9)  # the goodbye
    add(
        "queue.result",
        {"result": "leave", "queue": queue, "deflected": True, "waited_seconds": left - entered},
        left,
    )
    t += rng.randint(3, 40)
    if rng.random() >= 0.92:
        code = _draw(rng, SMS_ERRORS, 30003)
        add("sms.status", {"outbox_id": outbox_id, "status": "undelivered", "error_code": code}, t)
        return left + 1, "deflected"
    add("sms.status", {"outbox_id": outbox_id, "status": "delivered", "error_code": None}, t)
    if rng.random() < 0.55:
        t += min(3 * 3600, int(rng.lognormvariate(math.log(240), 1.2)))
        if len(line.channels) == 1:
            channel = line.channels[0]
            add("link.clicked", {"channel": channel, "first": True}, t)
        else:
            channel = "whatsapp" if rng.random() < 0.7 else "telegram"
            add("link.clicked", {"channel": None, "first": True}, t)
            t += rng.randint(3, 20)
            add("link.channel_chosen", {"channel": channel}, t)
        if rng.random() < 0.85:
            t += rng.randint(15, 180)
            match = _draw(rng, (("link", 0.8), ("reference", 0.15)), "number")
            what = {"channel": channel, "match": match, "flagged": None}
            add("chat.started", what, t)
            add("chat.message", {**what, "first": True}, t)
            if rng.random() < 0.96:
                add("chat.handed_off", {"adapter": "webhook", "handoff_id": outbox_id}, t + rng.randint(1, 8))
    return left + 1, "deflected"


# -- writing ---------------------------------------------------------------------------------------


def _batches(calls: Iterator[DemoCall]) -> Iterator[list[DemoCall]]:
    batch: list[DemoCall] = []
    for call in calls:
        batch.append(call)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_events(reports: Reports, calls: Iterator[DemoCall], progress: Progress | None) -> Seeded:
    """The real path: the calls rows and their events as the call log stores them, then the fold."""
    done = Seeded(0, 0, 0, facts_only=False)
    for batch in _batches(calls):
        with reports.database.session() as session:
            session.execute(insert(Call), [c.row for c in batch])
            for call in batch:
                sid = call.row["call_sid"]
                rows = [
                    r
                    for k, d, at in call.events
                    for r in event_rows([Event(k, d)], at.timestamp(), call_sid=sid)
                ]
                add_event_rows(session, rows)
                done.events += len(rows)
        _count(done, batch, progress)
    for folded in reports.refresh():
        done.facts += folded.facts
    return done


def _write_facts(reports: Reports, calls: Iterator[DemoCall], progress: Progress | None) -> Seeded:
    """The bulk path: each call folded in memory as the projector folds it, written as its calls and
    call_facts rows, and the sums per hour and slice (`report_hours`) added at the end. A fact waits
    until the long re-contact window after it has passed, to know when its number called again."""
    done = Seeded(0, 0, 0, facts_only=True)
    windows = reports.windows
    long = int(windows.long.total_seconds())
    sums: dict[SliceKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    waiting: dict[str, Fact] = {}  # by call SID, oldest first
    last_of: dict[str, str] = {}  # caller -> the SID of their latest call
    started: dict[str, int] = {}

    def settle(before: float, session: Any) -> None:
        ready = []
        for sid in waiting:
            if started[sid] + long >= before:
                break
            ready.append(sid)
        rows = []
        for sid in ready:
            fact = waiting.pop(sid)
            del started[sid]
            for name, n in contribution(fact, windows).items():
                sums[slice_key(fact)][name] += n
            rows.append(fact.values())
        if rows:
            session.execute(insert(CallFact), rows)
            done.facts += len(rows)

    for batch in _batches(calls):
        with reports.database.session() as session:
            session.execute(insert(Call), [c.row for c in batch])
            for call in batch:
                fact = _fact(call)
                begun = int(fact.started_at.timestamp())
                if fact.caller is not None:
                    earlier = last_of.get(fact.caller)
                    if earlier in waiting:
                        gap = begun - started[earlier]
                        if 0 < gap <= long and waiting[earlier].next_call_seconds is None:
                            waiting[earlier].next_call_seconds = gap
                    last_of[fact.caller] = fact.call_sid
                waiting[fact.call_sid] = fact
                started[fact.call_sid] = begun
            settle(started[batch[-1].row["call_sid"]], session)
        _count(done, batch, progress)
    with reports.database.session() as session:
        settle(float("inf"), session)
        add_sums(session, {key: dict(d) for key, d in sums.items()})
    return done


def _fact(call: DemoCall) -> Fact:
    """The call's fact as the projector makes it (`projector._made`): from its row and its events."""
    row = call.row
    _, data, entered = next(e for e in call.events if e[0] == "queue.enqueued")
    fact = Fact(
        call_sid=row["call_sid"],
        caller=row["caller"],
        flow_id=row["flow_id"],
        flow_version=row["flow_version"],
        locale=row["locale"],
        queue=str(data.get("queue") or ""),
        started_at=row["started_at"],
        entered_at=entered,
    )
    return fold(fact, [e for e in call.events if e[0] in FACT_KINDS])


def _count(done: Seeded, batch: list[DemoCall], progress: Progress | None) -> None:
    done.calls += len(batch)
    for call in batch:
        done.outcomes[call.outcome] = done.outcomes.get(call.outcome, 0) + 1
    first, last = batch[0].row["started_at"], batch[-1].row["started_at"]
    done.first = first if done.first is None else min(done.first, first)
    done.last = last if done.last is None else max(done.last, last)
    if progress is not None:
        progress(len(batch))

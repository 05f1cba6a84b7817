"""A call's events folded into its fact row, and what that row adds to its hour's sums. Pure: the
projector (`gateway.reporting.projector`) and the demo seed call the same functions.

Folding is order-insensitive and idempotent (firsts are minima, flags stay set, an SMS status only
moves up), so an event read twice, or late from the Redis buffer, gives the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.store.models import COUNTERS, TIMING_BOUNDS, TIMINGS

# An SMS status only moves up this order (a late "sent" callback does not undo "delivered").
_SMS_RANK = {
    "": 0,
    "refused": 1,  # the provider would not take it
    "accepted": 2,
    "queued": 2,
    "sent": 3,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "delivered": 5,
    "read": 6,
}
_SMS_FAILED = frozenset({"undelivered", "failed", "refused", "canceled"})
SMS_DELIVERED = frozenset({"delivered", "read"})
# How the call left the queue (Twilio's <Enqueue> QueueResult), as reports name it.
_AGENT_RESULTS = frozenset({"bridged", "bridging-in-process"})
# A call still on the line, as far as the events say.
WAITING = "waiting"


@dataclass(frozen=True)
class Windows:
    """The re-contact windows of net deflection: the same number calling again within them."""

    short: timedelta = timedelta(hours=24)
    long: timedelta = timedelta(days=7)

    def label(self, which: str) -> str:
        return _span(self.short if which == "short" else self.long)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 86400} d" if seconds % 86400 == 0 else f"{seconds // 3600} h"


@dataclass
class Fact:
    """One call that reached a queue (`gateway.store.models.CallFact`, field for field)."""

    call_sid: str
    caller: str | None
    flow_id: str
    flow_version: int
    locale: str
    queue: str
    started_at: datetime
    entered_at: datetime
    variant: str = ""
    position: int | None = None
    offers: int = 0
    offered_at: datetime | None = None
    refusal: str = ""
    declined: bool = False
    accepted_at: datetime | None = None
    consented_at: datetime | None = None
    keyed_number: bool = False
    outbox_id: int | None = None
    sms_status: str = ""
    sms_accepted_at: datetime | None = None
    sms_error: int | None = None
    sms_segments: int = 0
    clicked_at: datetime | None = None
    channel: str = ""
    chat_at: datetime | None = None
    matched: str = ""
    handed_off: bool = False
    outcome: str = WAITING
    waited_seconds: int = 0
    ended_at: datetime | None = None
    next_call_seconds: int | None = None

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Fact:
        return cls(**{f.name: values[f.name] for f in fields(cls)})

    def copy(self) -> Fact:
        return Fact.from_values(self.values())


def _first(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


def apply(fact: Fact, kind: str, data: Mapping[str, Any], at: datetime) -> None:
    """Fold one event of the call into its fact."""
    position = data.get("position")
    if fact.position is None and isinstance(position, int):
        fact.position = position
    if kind == "experiment.assigned" or (kind.startswith("offer.") and data.get("variant")):
        fact.variant = str(data.get("variant") or fact.variant)
    handler = _HANDLERS.get(kind)
    if handler is not None:
        handler(fact, data, at)


def _offered(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    number = data.get("number")  # the offer's number within the call: the same event read twice counts once
    fact.offers = max(fact.offers, number) if isinstance(number, int) else fact.offers + 1
    fact.offered_at = _first(fact.offered_at, at)


def _refused(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.refusal = fact.refusal or str(data.get("reason") or "other")


def _declined(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.declined = True


def _accepted(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.accepted_at = _first(fact.accepted_at, at)


def _consented(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.consented_at = _first(fact.consented_at, at)
    fact.keyed_number = fact.keyed_number or bool(data.get("keyed_number"))


def _queued(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.outbox_id = data.get("outbox_id", fact.outbox_id)


def _clicked(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.clicked_at = _first(fact.clicked_at, at)
    fact.channel = fact.channel or str(data.get("channel") or "")


def _channel_chosen(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.channel = str(data.get("channel") or fact.channel)


def _chat(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.chat_at = _first(fact.chat_at, at)
    fact.matched = fact.matched or str(data.get("match") or "")
    fact.channel = str(data.get("channel") or fact.channel)


def _handed_off(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.handed_off = True


def _left(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    fact.outcome = "deflected"


def _sms(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    """Any status but a refusal at create time means the provider took the SMS; the status only
    moves up `_SMS_RANK`."""
    status = str(data.get("status") or "accepted")
    if data.get("segments"):
        fact.sms_segments = int(data["segments"])
    if data.get("error_code") is not None:
        fact.sms_error = int(data["error_code"])
    if status != "refused":
        fact.sms_accepted_at = _first(fact.sms_accepted_at, at)
    if _SMS_RANK.get(status, 1) > _SMS_RANK.get(fact.sms_status, 0):
        fact.sms_status = status


def _left_queue(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    waited = data.get("waited_seconds")
    if isinstance(waited, int | float):
        fact.waited_seconds = max(fact.waited_seconds, int(waited))
    result = str(data.get("result") or "")
    if data.get("deflected"):
        fact.outcome = "deflected"
    elif fact.outcome != "deflected":
        if result in _AGENT_RESULTS:
            fact.outcome = "agent"
        elif result == "hangup":
            fact.outcome = "abandoned"
        elif fact.outcome == WAITING:
            fact.outcome = "other"  # queue full, an error, a redirect, or the flow's own `leave`


def _ended(fact: Fact, data: Mapping[str, Any], at: datetime) -> None:
    """The call is over. Still waiting: it left without a queue result (a hang-up during the consent
    dialogue, say): deflected when the consent was given, abandoned otherwise."""
    status = str(data.get("status") or "")
    if status not in ("completed", "canceled", "busy", "failed", "no-answer"):
        return
    fact.ended_at = _first(fact.ended_at, at) if fact.ended_at else at
    if fact.outcome == WAITING:
        fact.outcome = "deflected" if fact.consented_at is not None else "abandoned"
        if not fact.waited_seconds:
            fact.waited_seconds = max(0, int((at - fact.entered_at).total_seconds()))


_HANDLERS: dict[str, Callable[[Fact, Mapping[str, Any], datetime], None]] = {
    "offer.played": _offered,
    "offer.refused": _refused,
    "offer.declined": _declined,
    "offer.accepted": _accepted,
    "consent.granted": _consented,
    "sms.queued": _queued,
    "sms.sent": _sms,
    "sms.accepted": _sms,
    "sms.status": _sms,
    "link.clicked": _clicked,
    "link.channel_chosen": _channel_chosen,
    "chat.started": _chat,
    "chat.handed_off": _handed_off,
    "deflection.left": _left,
    "queue.result": _left_queue,
    "call.status": _ended,
}

# The events a fact is made of: those folded above, the enqueue that makes the fact, the experiment's
# assignment; announcements only give the queue position.
KINDS = frozenset(_HANDLERS) | {"queue.enqueued", "experiment.assigned", "wait.announce"}


def fold(fact: Fact, events: Iterable[tuple[str, Mapping[str, Any], datetime]]) -> Fact:
    """A copy of `fact` with the events applied, in time order."""
    folded = fact.copy()
    for kind, data, at in sorted(events, key=lambda e: e[2]):
        apply(folded, kind, data, at)
    return folded


# -- what a fact adds to its hour -------------------------------------------------------------------

SliceKey = tuple[datetime, str, str, int, str, str, str, str]  # hour + SLICE_COLUMNS, in that order


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def bucket(seconds: float) -> int:
    """The timing histogram bucket of a duration: the first bound it does not exceed."""
    for index, bound in enumerate(TIMING_BOUNDS):
        if seconds <= bound:
            return index
    return len(TIMING_BOUNDS)


def slice_key(fact: Fact) -> SliceKey:
    refusal = fact.refusal if fact.offers == 0 else ""
    return (
        hour_of(fact.entered_at),
        fact.queue,
        fact.flow_id,
        fact.flow_version,
        fact.locale,
        fact.channel,
        fact.variant,
        refusal,
    )


def contribution(fact: Fact, windows: Windows) -> dict[str, int]:
    """What the fact adds to its hour's sums (`COUNTERS` and the timing buckets)."""
    deflected = fact.outcome == "deflected"
    gap = fact.next_call_seconds
    short = gap is not None and gap <= windows.short.total_seconds()
    long = gap is not None and gap <= windows.long.total_seconds()
    sums = {
        "calls": 1,
        "offered": fact.offers > 0,
        "refused": fact.offers == 0 and bool(fact.refusal),
        "declined": fact.declined,
        "accepted": fact.accepted_at is not None,
        "consented": fact.consented_at is not None,
        "keyed_number": fact.consented_at is not None and fact.keyed_number,
        "sms_accepted": fact.sms_accepted_at is not None,
        "sms_delivered": fact.sms_status in SMS_DELIVERED,
        "sms_failed": fact.sms_status in _SMS_FAILED,
        "clicked": fact.clicked_at is not None,
        "chat_started": fact.chat_at is not None,
        "handed_off": fact.handed_off,
        "deflected": deflected,
        "reached_agent": fact.outcome == "agent",
        "abandoned": fact.outcome == "abandoned",
        "recontact_short": short,
        "recontact_long": long,
        "deflected_recontact_short": deflected and short,
        "deflected_recontact_long": deflected and long,
        "wait_seconds": fact.waited_seconds,
        "deflected_wait_seconds": fact.waited_seconds if deflected else 0,
        "sms_segments": fact.sms_segments if fact.sms_accepted_at is not None else 0,
    }
    counts = {name: int(sums[name]) for name in COUNTERS}
    if fact.accepted_at is not None and fact.sms_accepted_at is not None:
        seconds = (fact.sms_accepted_at - fact.accepted_at).total_seconds()
        counts[f"to_sms_{bucket(max(0.0, seconds)):02d}"] = 1
    if fact.sms_accepted_at is not None and fact.chat_at is not None:
        seconds = (fact.chat_at - fact.sms_accepted_at).total_seconds()
        counts[f"to_chat_{bucket(max(0.0, seconds)):02d}"] = 1
    return counts


def timing_columns() -> list[str]:
    return [f"{timing}_{b:02d}" for timing in TIMINGS for b in range(len(TIMING_BOUNDS) + 1)]


SUM_COLUMNS = (*COUNTERS, *timing_columns())

"""What managers read, worked out from a slice's sums: the funnel, gross and net deflection, timings,
agent minutes avoided and savings. Pure functions of `Sums`; every surface shows these.

Definitions (the README repeats them):
- gross deflection = calls that left the queue for a messenger (accepted, consented and either left
  the queue or hung up after the consent) / calls that reached the queue;
- net deflection (window W) = deflected calls whose number did NOT call again within W of the call's
  start / calls that reached the queue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gateway.reporting.facts import Windows
from gateway.reporting.queries import Sums
from gateway.store.models import TIMING_BOUNDS

FUNNEL = (
    ("calls", "calls in queue"),
    ("offered", "offered"),
    ("accepted", "accepted"),
    ("consented", "consented"),
    ("sms_accepted", "SMS accepted"),
    ("sms_delivered", "SMS delivered"),
    ("clicked", "link clicked"),
    ("chat_started", "chat started"),
    ("handed_off", "handed off"),
)


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by (shown as "—", never 0 %)."""
    return part / whole if whole else None


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    count: int
    of_previous: float | None
    of_first: float | None


def funnel(sums: Sums) -> list[Step]:
    steps = []
    first = sums["calls"]
    previous = first
    for name, label in FUNNEL:
        count = sums[name]
        steps.append(Step(name, label, count, rate(count, previous), rate(count, first)))
        previous = count
    return steps


def percentile(sums: Sums, timing: str, q: float) -> float | None:
    """The q-quantile (0..1) of a timing histogram, interpolated within its bucket; None when empty.
    Above the last bound it is that bound (the histogram knows only "longer")."""
    counts = [sums[f"{timing}_{b:02d}"] for b in range(len(TIMING_BOUNDS) + 1)]
    total = sum(counts)
    if not total:
        return None
    target = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= target:
            if index == len(TIMING_BOUNDS):
                return float(TIMING_BOUNDS[-1])
            low = 0.0 if index == 0 else float(TIMING_BOUNDS[index - 1])
            high = float(TIMING_BOUNDS[index])
            return low + (high - low) * (target - seen) / count
        seen += count
    return float(TIMING_BOUNDS[-1])


@dataclass(frozen=True)
class Costs:
    """The savings estimate's settings: an agent minute, an SMS segment, and how long an agent would
    have spent on a deflected call."""

    agent_minute: Decimal = Decimal("0")
    sms_segment: Decimal = Decimal("0")
    handle_minutes: Decimal = Decimal("6")
    currency: str = "RUB"


@dataclass(frozen=True)
class Deflection:
    calls: int
    offered: int
    deflected: int
    gross_rate: float | None
    net_short: int  # deflected, and no call again within the short window
    net_short_rate: float | None
    net_long: int
    net_long_rate: float | None
    short_window: str
    long_window: str
    offer_take_rate: float | None  # accepted / offered
    reached_agent: int
    abandoned: int
    to_sms_p50: float | None  # seconds, key press to the SMS accepted by the provider
    to_sms_p90: float | None
    to_chat_p50: float | None  # seconds, SMS accepted to the chat's first message
    to_chat_p90: float | None
    sms_segments: int
    agent_minutes_avoided: Decimal  # net deflected (long window) x handle minutes
    sms_cost: Decimal
    savings: Decimal  # agent minutes avoided x cost per minute - SMS segments x cost per segment
    currency: str

    def as_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def deflection(sums: Sums, windows: Windows, costs: Costs) -> Deflection:
    calls, deflected = sums["calls"], sums["deflected"]
    net_short = deflected - sums["deflected_recontact_short"]
    net_long = deflected - sums["deflected_recontact_long"]
    minutes = Decimal(net_long) * costs.handle_minutes
    sms_cost = Decimal(sums["sms_segments"]) * costs.sms_segment
    return Deflection(
        calls=calls,
        offered=sums["offered"],
        deflected=deflected,
        gross_rate=rate(deflected, calls),
        net_short=net_short,
        net_short_rate=rate(net_short, calls),
        net_long=net_long,
        net_long_rate=rate(net_long, calls),
        short_window=windows.label("short"),
        long_window=windows.label("long"),
        offer_take_rate=rate(sums["accepted"], sums["offered"]),
        reached_agent=sums["reached_agent"],
        abandoned=sums["abandoned"],
        to_sms_p50=percentile(sums, "to_sms", 0.5),
        to_sms_p90=percentile(sums, "to_sms", 0.9),
        to_chat_p50=percentile(sums, "to_chat", 0.5),
        to_chat_p90=percentile(sums, "to_chat", 0.9),
        sms_segments=sums["sms_segments"],
        agent_minutes_avoided=minutes,
        sms_cost=_money(sms_cost),
        savings=_money(minutes * costs.agent_minute - sms_cost),
        currency=costs.currency,
    )

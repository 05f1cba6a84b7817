"""Business hours: parse a flow's weekly schedule and holidays, and tell whether the line is open."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from gateway.flows.model import Hours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSED = "closed"
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Interval = tuple[int, int]
"""Opening interval in minutes after midnight, start inclusive, end exclusive."""


def check_timezone(name: str) -> ZoneInfo:
    """Return the zone for an IANA name such as 'Europe/Moscow', or raise ValueError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}' (use an IANA name such as Europe/Moscow)") from None


def parse_days(spec: str) -> list[int]:
    """'mon-fri' -> [0..4]; 'sat,sun' -> [5, 6]; 'wed' -> [2]."""
    days: list[int] = []
    for part in (p.strip().lower() for p in spec.split(",")):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"'{spec}' is not a day or a range of days such as mon-fri")
        start, end = DAYS.index(first), DAYS.index(last or first)
        if end < start:
            raise ValueError(f"day range '{part}' runs backwards")
        days.extend(range(start, end + 1))
    return days


def _minutes(text: str, spec: str) -> int:
    if not _TIME.match(text):
        raise ValueError(f"'{spec}' is not a time range such as 09:00-20:00")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_intervals(spec: str) -> list[Interval]:
    """'09:00-13:00, 14:00-18:00' -> [(540, 780), (840, 1080)]; 'closed' -> []."""
    if spec.strip().lower() == CLOSED:
        return []
    intervals: list[Interval] = []
    for part in (p.strip() for p in spec.split(",")):
        start_text, sep, end_text = part.partition("-")
        if not sep:
            raise ValueError(f"'{spec}' is not a time range such as 09:00-20:00")
        start, end = _minutes(start_text.strip(), spec), _minutes(end_text.strip(), spec)
        if end <= start:
            raise ValueError(f"'{part}' ends before it starts (overnight hours are not supported)")
        intervals.append((start, end))
    return sorted(intervals)


def parse_weekly(weekly: Mapping[str, str]) -> dict[int, list[Interval]]:
    """Weekday (0 = Monday) -> opening intervals; days that are not listed are closed."""
    schedule: dict[int, list[Interval]] = {}
    for days_spec, hours_spec in weekly.items():
        intervals = parse_intervals(hours_spec)
        for day in parse_days(days_spec):
            if day in schedule:
                raise ValueError(f"'{DAYS[day]}' appears in more than one weekly entry")
            schedule[day] = intervals
    return schedule


def _parse_date(text: str) -> date:
    if not _DATE.match(text):
        raise ValueError(f"'{text}' is not a date such as 2027-01-01")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a real date") from None


@lru_cache(maxsize=1024)
def parse_holiday(spec: str) -> tuple[date, date]:
    """'2027-01-01' or '2027-01-01..2027-01-08' (inclusive) -> (first, last)."""
    first_text, sep, last_text = spec.partition("..")
    first = _parse_date(first_text.strip())
    last = _parse_date(last_text.strip()) if sep else first
    if last < first:
        raise ValueError(f"holiday range '{spec}' runs backwards")
    return first, last


def is_holiday(day: date, holidays: Iterable[str]) -> bool:
    """True when the day falls on one of the holiday dates or ranges."""
    return any(first <= day <= last for first, last in _holiday_ranges(tuple(holidays)))


@lru_cache(maxsize=256)
def _holiday_ranges(specs: tuple[str, ...]) -> tuple[tuple[date, date], ...]:
    """The holidays parsed once per distinct list: `is_open` runs on every webhook."""
    return tuple(parse_holiday(spec) for spec in specs)


def is_open(hours: Hours | None, now: float) -> bool:
    """Whether the contact centre is open at `now` (epoch seconds); a flow without hours is always open."""
    if hours is None:
        return True
    local = datetime.fromtimestamp(now, tz=check_timezone(hours.timezone))
    if is_holiday(local.date(), hours.holidays):
        return False
    minute = local.hour * 60 + local.minute
    intervals = _weekly(tuple(hours.weekly.items())).get(local.weekday(), [])
    return any(start <= minute < end for start, end in intervals)


@lru_cache(maxsize=256)
def _weekly(items: tuple[tuple[str, str], ...]) -> dict[int, list[Interval]]:
    """The weekly schedule parsed once per distinct schedule: `is_open` runs on every webhook."""
    return parse_weekly(dict(items))

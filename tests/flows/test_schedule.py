"""Business hours in the flow's own time zone, with holidays."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.flows import is_open
from gateway.flows.model import Hours
from gateway.flows.schedule import parse_days, parse_intervals

MOSCOW = ZoneInfo("Europe/Moscow")
HOURS = Hours(
    timezone="Europe/Moscow",
    weekly={"mon-fri": "09:00-13:00, 14:00-21:00", "sat": "10:00-18:00"},
    holidays=["2027-01-01..2027-01-08", "2027-03-08"],
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=MOSCOW).timestamp()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2027-03-01 08:59", False),  # Monday, before opening
        ("2027-03-01 09:00", True),
        ("2027-03-01 13:30", False),  # lunch break
        ("2027-03-01 20:59", True),
        ("2027-03-01 21:00", False),  # closing time is exclusive
        ("2027-03-06 12:00", True),  # Saturday
        ("2027-03-07 12:00", False),  # Sunday is not listed
        ("2027-03-08 12:00", False),  # holiday on a Monday
        ("2027-01-05 12:00", False),  # inside a holiday range
        ("2027-01-11 12:00", True),
    ],
)
def test_is_open_follows_moscow_time(moment: str, expected: bool) -> None:
    assert is_open(HOURS, at(moment)) is expected


def test_is_open_converts_from_utc() -> None:
    # 06:30 UTC is 09:30 in Moscow on a Monday.
    utc = datetime(2027, 3, 1, 6, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    assert is_open(HOURS, utc) is True


def test_a_flow_without_hours_is_always_open() -> None:
    assert is_open(None, 0.0) is True


def test_schedule_parsing() -> None:
    assert parse_days("mon-wed,fri") == [0, 1, 2, 4]
    assert parse_intervals("closed") == []
    assert parse_intervals("00:00-24:00") == [(0, 1440)]
    for bad in ("fri-mon", "moon"):
        with pytest.raises(ValueError):
            parse_days(bad)
    for bad in ("18:00-09:00", "9:00-18:00", "09:00", "09:00-25:00"):
        with pytest.raises(ValueError):
            parse_intervals(bad)


def test_a_day_in_two_weekly_entries_is_refused() -> None:
    with pytest.raises(ValueError, match="'wed' appears in more than one weekly entry"):
        Hours(timezone="UTC", weekly={"mon-fri": "09:00-18:00", "wed": "10:00-12:00"})

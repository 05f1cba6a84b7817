"""The one clock. Everything that needs "now" asks the process's clock (`Services.clock`), never
`time.time()` or `datetime.now()` directly, so a test or the simulator sets time in one place and the
same code runs on any date.

`time.monotonic()` is not "now": it measures intervals inside one process (cache refreshes, timeouts)
and stays where it is used.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Unix seconds."""
        ...

    def now(self) -> datetime:
        """The same instant as an aware UTC datetime."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait until the clock has moved on by `seconds` (a manual clock just moves)."""
        ...


class SystemClock:
    """The machine's clock: what every process runs on outside tests and the simulator."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to: the simulator's time in queue, and every test's "now"."""

    def __init__(self, at: float | datetime) -> None:
        self._at = _seconds(at)

    def time(self) -> float:
        return self._at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._at, UTC)

    def set(self, at: float | datetime) -> None:
        self._at = _seconds(at)

    def advance(self, seconds: float) -> None:
        self._at += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"


def _seconds(at: float | datetime) -> float:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("a naive datetime has no place on the clock; give it a time zone")
        return at.timestamp()
    return float(at)

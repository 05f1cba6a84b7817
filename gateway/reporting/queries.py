"""The one way reports read the database: the hours' sums (`report_hours`) of a period in a time zone,
filtered and sliced, and the fact rows themselves for exports. The console, the CLI and the API all
call these, so their figures are the same.

A period is whole local days [start, end] in a time zone; hours are stored in UTC, so a zone with a
whole-hour offset (every zone of Russia and Kazakhstan) cuts exactly at its midnight.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.reporting.facts import SUM_COLUMNS
from gateway.store.models import CallFact, report_hours

# What a report can be sliced by: the column(s) of `report_hours` behind each.
SLICES: dict[str, tuple[str, ...]] = {
    "day": ("hour",),  # each local date of the period
    "hour": ("hour",),  # hour of the local day, 00-23, over the whole period
    "queue": ("queue",),
    "version": ("flow_id", "flow_version"),
    "channel": ("channel",),
    "locale": ("locale",),
    "variant": ("flow_id", "queue", "variant"),
    "refusal": ("refusal",),
}
FILTERS = ("queue", "flow_id", "flow_version", "channel", "locale", "variant")
NONE = "—"  # the label of a slice's empty value (no channel, no variant)


class BadPeriod(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise BadPeriod(f"the period ends ({self.end}) before it starts ({self.start})")
        if (self.end - self.start).days > 3660:
            raise BadPeriod("a period is at most ten years")

    def bounds(self) -> tuple[datetime, datetime]:
        """The period in UTC: [from, to)."""
        first = datetime.combine(self.start, time(), self.tz).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time(), self.tz).astimezone(UTC)
        return first, after

    def days(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)

    @classmethod
    def parse(cls, start: str, end: str, tz: str = "UTC") -> Period:
        """From ISO dates and an IANA zone name, with an error that says which is wrong."""
        try:
            zone = ZoneInfo(tz)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError for a malformed name
            raise BadPeriod(f"unknown time zone {tz!r} (an IANA name such as Europe/Moscow)") from exc
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError as exc:
            raise BadPeriod(f"dates are YYYY-MM-DD: {exc}") from exc
        return cls(first, last, zone)


@dataclass(frozen=True)
class Sums:
    """The sums of one slice: every counter and timing bucket of `report_hours`."""

    values: Mapping[str, int]

    def __getitem__(self, name: str) -> int:
        return int(self.values.get(name, 0))

    def __add__(self, other: Sums) -> Sums:
        return Sums({name: self[name] + other[name] for name in SUM_COLUMNS})

    @classmethod
    def zero(cls) -> Sums:
        return cls({name: 0 for name in SUM_COLUMNS})


def _filtered(statement: Any, table_columns: Any, filters: Mapping[str, Any]) -> Any:
    for name, value in filters.items():
        if name not in FILTERS:
            raise ValueError(f"no filter {name!r} (one of {', '.join(FILTERS)})")
        if value is not None:
            statement = statement.where(table_columns[name] == value)
    return statement


def grouped(
    session: Session, period: Period, columns: tuple[str, ...], **filters: Any
) -> list[tuple[tuple[Any, ...], Sums]]:
    """The period's sums per value of `columns` of `report_hours` (all in one without columns),
    filtered by exact values of `FILTERS` (None: no filter)."""
    first, after = period.bounds()
    keys = [report_hours.c[name] for name in columns]
    totals = [func.sum(report_hours.c[name]).label(name) for name in SUM_COLUMNS]
    statement = select(*keys, *totals).where(report_hours.c.hour >= first, report_hours.c.hour < after)
    statement = _filtered(statement, report_hours.c, filters)
    if keys:
        statement = statement.group_by(*keys)
    return [
        (tuple(row[: len(keys)]), Sums({n: int(getattr(row, n) or 0) for n in SUM_COLUMNS}))
        for row in session.execute(statement)
    ]


def sums(session: Session, period: Period, by: str | None = None, **filters: Any) -> list[tuple[str, Sums]]:
    """The period's sums, one per slice value in order (one "all" without `by`), filtered by exact
    values of `FILTERS` (None: no filter)."""
    if by is not None and by not in SLICES:
        raise ValueError(f"no slice {by!r} (one of {', '.join(SLICES)})")
    rows = grouped(session, period, SLICES[by] if by else (), **filters)
    if by is None:
        return [("all", rows[0][1] if rows else Sums.zero())]
    # Plain ints per label: a quarter by day is about 2,000 hourly rows of 57 sums each.
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SUM_COLUMNS, 0))
    for key, found in rows:
        into = totals[_label(by, key, period.tz)]
        for name, value in found.values.items():
            into[name] += value
    merged = {label: Sums(values) for label, values in totals.items()}
    if by == "day":
        return [(d.isoformat(), merged.get(d.isoformat(), Sums.zero())) for d in period.days()]
    if by == "hour":
        return [(f"{h:02d}", merged.get(f"{h:02d}", Sums.zero())) for h in range(24)]
    return sorted(merged.items(), key=lambda item: (item[0] == NONE, item[0]))


def _label(by: str, key: tuple[Any, ...], tz: ZoneInfo) -> str:
    if by in ("day", "hour"):
        hour = key[0] if key[0].tzinfo else key[0].replace(tzinfo=UTC)
        local = hour.astimezone(tz)
        return local.date().isoformat() if by == "day" else f"{local.hour:02d}"
    if by == "version":
        return f"{key[0]} v{key[1]}"
    if by == "variant":
        return f"{key[0]} / {key[1]} / {key[2] or NONE}"
    return str(key[0]) if key[0] not in ("", None) else NONE


def facts(session: Session, period: Period, chunk: int = 5000, **filters: Any) -> Iterator[CallFact]:
    """The fact rows of the period (by the time each call entered its queue), oldest first, read a
    chunk at a time so an export of a quarter never holds it all in memory."""
    first, after = period.bounds()
    statement = select(CallFact).where(CallFact.entered_at >= first, CallFact.entered_at < after)
    statement = _filtered(statement, CallFact.__table__.c, filters).order_by(
        CallFact.entered_at, CallFact.call_sid
    )
    yield from session.scalars(statement.execution_options(yield_per=chunk))


def slice_values(session: Session) -> dict[str, list[str]]:
    """Every value each filter has taken (the console's pickers)."""
    values: dict[str, list[str]] = {}
    for name in FILTERS:
        column = report_hours.c[name]
        found = session.scalars(select(column).distinct().order_by(column))
        values[name] = [str(v) for v in found if v != ""]
    return values

"""The fact rows as CSV, one row per call that reached a queue: what the console's download and the
API's export hand out. Pure: the rows come in as an iterable, the text goes to `out`.

A caller's number is cut to its last four digits (`****1234`): enough to tell calls apart in a
spreadsheet, not enough to dial. Times are in the report's time zone. A cell that a spreadsheet would
run as a formula (=, +, -, @ first) gets a leading quote (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

COLUMNS = (
    "call_sid",
    "entered_at",
    "caller",
    "queue",
    "flow_id",
    "flow_version",
    "locale",
    "variant",
    "position",
    "offers",
    "refusal",
    "declined",
    "accepted_at",
    "consented_at",
    "sms_status",
    "sms_accepted_at",
    "sms_segments",
    "clicked_at",
    "channel",
    "chat_at",
    "handed_off",
    "outcome",
    "waited_seconds",
    "next_call_seconds",
)
_TIMES = frozenset(name for name in COLUMNS if name.endswith("_at"))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def masked_caller(number: str | None) -> str:
    """`+79161234567` -> `****4567`; a withheld number is empty."""
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    return "****" + digits[-4:] if len(digits) >= 4 else ""


def _cell(name: str, value: Any, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if name == "caller":
        return masked_caller(value)
    if name in _TIMES and isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def rows(facts: Iterable[Any], tz: ZoneInfo) -> Iterator[list[str]]:
    """The header, then one row per fact (anything with the `COLUMNS` as attributes)."""
    yield list(COLUMNS)
    for fact in facts:
        yield [_cell(name, getattr(fact, name), tz) for name in COLUMNS]


def write_csv(facts: Iterable[Any], tz: ZoneInfo, out: TextIO) -> int:
    """Write the facts as CSV to `out`; returns how many calls were written."""
    writer = csv.writer(out)
    count = -1
    for row in rows(facts, tz):
        writer.writerow(row)
        count += 1
    return count

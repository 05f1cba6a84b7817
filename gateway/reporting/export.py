"""The fact rows of a period, for a spreadsheet: CSV (streamed a line at a time) or XLSX (XlsxWriter in
its constant-memory mode: rows go to disk as they are written). Every column of the fact, except that
the caller is masked to the last four digits of the number (never a full number), and times are ISO 8601
in the period's time zone. A text cell a spreadsheet would run as a formula (=, +, -, @ first) gets a
leading quote (OWASP's advice on CSV injection): a queue or variant name is admin-made text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

import xlsxwriter

from gateway.store.models import CallFact

COLUMNS = tuple(column.name for column in CallFact.__table__.columns)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")


def mask(number: str | None) -> str:
    """A caller as reports show it: the last four digits (`…4567`), enough to tell calls apart."""
    if not number:
        return ""
    digits = "".join(c for c in number if c.isdigit())
    return "…" + digits[-4:] if digits else "…"


def _value(fact: CallFact, name: str, tz: ZoneInfo) -> Any:
    value = getattr(fact, name)
    if name == "caller":
        return mask(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(tz).isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def rows(facts: Iterable[CallFact], tz: ZoneInfo) -> Iterator[list[Any]]:
    """The header, then one list of values per fact."""
    yield list(COLUMNS)
    for fact in facts:
        yield [_value(fact, name, tz) for name in COLUMNS]


def csv_lines(facts: Iterable[CallFact], tz: ZoneInfo) -> Iterator[str]:
    """The CSV a line at a time (RFC 4180: CRLF line ends, quoted where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows(facts, tz):
        writer.writerow(["" if v is None else v for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def write_xlsx(facts: Iterable[CallFact], tz: ZoneInfo, out: IO[bytes]) -> int:
    """The workbook, one sheet "facts", written to `out`; returns how many facts it holds."""
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False})
    sheet = workbook.add_worksheet("facts")
    count = -1
    for index, row in enumerate(rows(facts, tz)):
        for column, value in enumerate(row):
            if value is not None:
                sheet.write(index, column, value)
        count = index
    sheet.freeze_panes(1, 0)
    workbook.close()
    return count

"""The facts' CSV: one row per fact, callers cut to their last four digits (…4567), times in the zone,
formula-like cells quoted."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from gateway.reporting.export import COLUMNS, csv_lines, mask
from gateway.reporting.facts import Fact


def fact(sid: str, caller: str | None, queue: str = "cards") -> Fact:
    at = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
    return Fact(
        call_sid=sid,
        caller=caller,
        flow_id="bank",
        flow_version=3,
        locale="ru-RU",
        queue=queue,
        started_at=at,
        entered_at=at,
        handed_off=True,
        outcome="deflected",
    )


def test_one_row_per_fact_with_the_caller_masked_and_local_times() -> None:
    facts = [fact("CA1", "+79161234567"), fact("CA2", None, queue="=HYPERLINK(1)")]
    out = io.StringIO("".join(csv_lines(facts, ZoneInfo("Asia/Almaty"))))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 2
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["caller"] == "…4567" and rows[1]["caller"] == ""
    assert "+7916" not in out.getvalue() and "1234567" not in out.getvalue()
    assert rows[0]["entered_at"] == "2026-11-24T02:30:00+05:00"
    assert rows[0]["handed_off"] == "True" and rows[0]["accepted_at"] == "" and rows[0]["flow_version"] == "3"
    assert rows[1]["queue"] == "'=HYPERLINK(1)"


def test_a_number_shows_its_last_four_digits_and_a_missing_one_nothing() -> None:
    assert mask("+7 (916) 123-45-67") == "…4567"
    assert mask("") == ""
    assert mask(None) == ""

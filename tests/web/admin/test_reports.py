"""The reports page (every role, from viewer up): figures that match the calls folded, the form's
errors shown instead of a crash, the empty period's hint, the CSV of the same period and filters."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.clock import ManualClock
from tests.support.console import Console, signed_in
from tests.support.report_seed import fold, seed_call

# The test clock is 2026-11-24 12:00 in Moscow: the default period is 2026-11-18 .. 2026-11-24.
MONDAY = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
FRIDAY = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 10, 7, 0, tzinfo=UTC)  # outside the default period


def figure(html: str, name: str) -> str:
    found = re.search(rf'id="fig-{name}">([^<]*)<', html)
    assert found, f"no figure {name}"
    return found.group(1)


@pytest.fixture
def seeded(make_app: Any) -> Any:
    """Monday: two deflected and one declined call in `cards`; Friday: one deflected call and one
    refused (chat closed) call in `loans`; the number of Monday's first deflected call called again two hours
    later (re-contact within 24 h, also a call in queue). Ten days earlier: one more call. An agent
    minute costs 20, an SMS segment 3."""
    app = make_app(DEFLECT_REPORT_AGENT_MINUTE_COST="20", DEFLECT_REPORT_SMS_SEGMENT_COST="3")
    seed_call(app, MONDAY, "deflected", queue="cards", caller="+79160000001")
    seed_call(app, MONDAY, "deflected", queue="cards", caller="+79160000002")
    seed_call(app, MONDAY, "agent", queue="cards", caller="+79160000003")
    seed_call(app, MONDAY.replace(hour=9), "agent", queue="cards", caller="+79160000001")
    seed_call(app, FRIDAY, "deflected", queue="loans", caller="+79160000004", channel="whatsapp")
    seed_call(app, FRIDAY, "refused:chat_closed", queue="loans", caller="+79160000005")
    seed_call(app, EARLIER, "deflected", queue="loans", caller="+79160000006")
    fold(app)
    return app


def test_a_viewer_sees_the_last_weeks_figures(seeded: Any) -> None:
    console = signed_in(seeded, "viewer")
    response = console.get("/admin/reports/?lang=en")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="2026-11-18"' in html and 'value="2026-11-24"' in html  # the default period
    assert figure(html, "calls") == "6"
    assert figure(html, "gross") == "50.0 %"  # 3 deflected / 6
    assert figure(html, "net-short") == "33.3 %"  # one of them called again within 24 h
    assert figure(html, "net-long") == "33.3 %"
    assert figure(html, "take") == "60.0 %"  # 3 accepted / 5 offered
    # every SMS 9 s after the key press, every chat 30 s after the SMS: interpolated in their buckets
    assert figure(html, "to-sms") == "7.5 s / 9.5 s"
    assert figure(html, "to-chat") == "25.0 s / 29.0 s"
    assert figure(html, "minutes") == "12"  # 2 net deflected (7 d) x 6 minutes
    assert figure(html, "savings") == "231.00 RUB"  # 12 x 20 - 3 segments x 3
    assert "Europe/Moscow" in html
    slices = re.findall(r'<tr data-key="([^"]+)">\s*<td>[^<]*</td><td class="num">(\d+)</td>', html)
    assert slices == [("cards", "4"), ("loans", "2")]
    assert re.search(r"<code>chat_closed</code></td><td class=\"num\">1<", html)
    assert 'id="report-data"' in html and 'type="application/json"' in html
    assert "<script>" not in html  # the CSP runs no inline script: the charts read the JSON block


def test_the_period_slice_and_filters_change_the_figures(seeded: Any) -> None:
    console = signed_in(seeded, "viewer")
    html = console.get("/admin/reports/?lang=en&from=2026-11-23&to=2026-11-23").get_data(as_text=True)
    assert figure(html, "calls") == "4"
    html = console.get("/admin/reports/?lang=en&from=2026-11-01&to=2026-11-30&queue=loans").get_data(
        as_text=True
    )
    assert figure(html, "calls") == "3"
    assert figure(html, "gross") == "66.7 %"
    html = console.get("/admin/reports/?lang=en&by=day").get_data(as_text=True)
    days = dict(
        re.findall(r'<tr data-key="(2026-11-\d\d)">\s*<td>[^<]*</td><td class="num">(\d+)</td>', html)
    )
    assert (
        len(days) == 7
        and days["2026-11-23"] == "4"
        and days["2026-11-20"] == "2"
        and days["2026-11-18"] == "0"
    )
    html = console.get("/admin/reports/?lang=en&by=channel").get_data(as_text=True)
    assert ("whatsapp", "1") in re.findall(
        r'<tr data-key="([^"]+)">\s*<td>[^<]*</td><td class="num">(\d+)</td>', html
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01", "The start date is not a date"),
        ("to=yesterday", "The end date is not a date"),
        ("from=2026-11-24&to=2026-11-01", "The period ends before it starts"),
        ("tz=Mars/Olympus", "Unknown time zone"),
        ("by=caller", "Rows can be by"),
        ("flow_version=v2", "A flow version is a whole number"),
        ("from=1900-01-01&to=2026-01-01", "at most ten years"),
    ],
)
def test_bad_input_shows_the_form_with_its_error(app: Any, query: str, message: str) -> None:
    console = signed_in(app, "viewer")
    response = console.get(f"/admin/reports/?lang=en&{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html and 'id="report-form"' in html
    assert 'id="fig-calls"' not in html
    assert console.get(f"/admin/reports/export.csv?{query}").status_code == 400


def test_an_empty_period_says_so_and_how_to_seed_demo_data(app: Any) -> None:
    html = signed_in(app, "viewer").get("/admin/reports/?lang=en").get_data(as_text=True)
    assert "No calls in this period" in html and "deflect demo seed" in html
    assert "have not been worked out yet" in html  # the fold never ran


def test_the_fold_time_is_shown_in_the_reports_zone(seeded: Any, clock: ManualClock) -> None:
    html = signed_in(seeded, "viewer").get("/admin/reports/?lang=en").get_data(as_text=True)
    assert "2026-11-24 12:00:00 MSK" in html


def test_the_csv_is_one_row_per_call_with_callers_cut_to_four_digits(seeded: Any) -> None:
    console = signed_in(seeded, "viewer")
    response = console.get("/admin/reports/export.csv?from=2026-11-18&to=2026-11-24&queue=cards")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 4 and {row["queue"] for row in rows} == {"cards"}
    assert sorted(row["caller"] for row in rows) == ["…0001", "…0001", "…0002", "…0003"]
    assert "+7916" not in text and "79160000001" not in text
    assert [row["outcome"] for row in rows].count("deflected") == 2
    assert rows[0]["entered_at"].endswith("+03:00")  # in the report's time zone


@pytest.mark.parametrize("role", ["viewer", "agent", "editor", "publisher", "admin"])
def test_every_role_may_read_reports(app: Any, role: str) -> None:
    console = signed_in(app, role)
    assert console.get("/admin/reports/").status_code == 200
    assert console.get("/admin/reports/export.csv").status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(app: Any) -> None:
    console = Console(app.test_client())
    for path in ("/admin/reports/", "/admin/reports/export.csv"):
        response = console.get(path)
        assert response.status_code == 302
        assert "/admin/sign-in" in response.headers["Location"]

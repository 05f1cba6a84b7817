"""A manager reads the reports page in a browser: the week's figures, the charts drawn from them (under
the console's CSP), another period and another slice with the figures that go with them, and the CSV
of what is shown, whose rows add up to the page's totals."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.support.report_seed import fold, seed_call

# The test clock is 2026-11-24 12:00 in Moscow: the default period is 2026-11-18 .. 2026-11-24.
MONDAY = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)


@pytest.fixture
def seeded(app: Any) -> Any:
    """Eight calls in the default week over three days and two queues (four deflected, one of whose
    numbers called again within the hour), and one the week before."""
    seed_call(app, MONDAY, "deflected", queue="cards", caller="+79160000001")
    seed_call(app, MONDAY, "deflected", queue="cards", caller="+79160000002")
    seed_call(app, MONDAY, "agent", queue="cards", caller="+79160000003")
    seed_call(app, MONDAY.replace(hour=8), "agent", queue="cards", caller="+79160000001")
    seed_call(app, FRIDAY, "deflected", queue="loans", caller="+79160000004", channel="whatsapp")
    seed_call(app, FRIDAY, "refused:chat_closed", queue="loans", caller="+79160000005")
    seed_call(app, WEDNESDAY, "deflected", queue="loans", caller="+79160000006")
    seed_call(app, WEDNESDAY, "abandoned", queue="cards", caller="+79160000007")
    seed_call(app, datetime(2026, 11, 11, 7, 0, tzinfo=UTC), "deflected", queue="loans")
    fold(app)
    return app


def slice_rows(page: Any) -> dict[str, int]:
    rows = page.locator("#report-slices tbody tr")
    return {
        rows.nth(i).get_attribute("data-key"): int(rows.nth(i).locator("td").nth(1).inner_text())
        for i in range(rows.count())
    }


def test_a_manager_reads_the_week_then_another_period_and_slice_and_the_csv(page: Any, seeded: Any) -> None:
    sign_in(page, seeded, "viewer")
    problems: list[str] = []  # a CSP refusal or a script error shows in the browser's console
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.locator("nav.menu").get_by_role("link", name="Reports").click()
    page.wait_for_url("**/admin/reports/")
    page.locator("body[data-charts=drawn]").wait_for()
    assert page.locator("#report-from").input_value() == "2026-11-18"
    assert page.locator("#report-to").input_value() == "2026-11-24"
    assert page.locator("#fig-calls").inner_text() == "8"
    assert page.locator("#fig-gross").inner_text() == "50.0 %"  # 4 / 8
    assert page.locator("#fig-net-short").inner_text() == "37.5 %"  # 3 / 8: one number called again
    assert page.locator("#fig-take").inner_text() == "57.1 %"  # 4 accepted / 7 offered
    assert slice_rows(page) == {"cards": 5, "loans": 3}
    # the charts hold the page's figures (drawn by reports.js from the JSON block, no inline script)
    funnel = page.evaluate("Chart.getChart('chart-funnel').data.datasets[0].data")
    assert funnel[:4] == [8, 7, 4, 4]
    trend = page.evaluate("Chart.getChart('chart-trend').data")
    assert trend["labels"] == [f"2026-11-{day}" for day in range(18, 25)]
    assert trend["datasets"][0]["data"] == [2, 0, 2, 0, 0, 4, 0]  # calls
    assert trend["datasets"][1]["data"] == [1, 0, 1, 0, 0, 2, 0]  # deflected
    assert trend["datasets"][2]["data"] == [1, 0, 1, 0, 0, 1, 0]  # net, 7 d
    screenshot(page, "reports-week")

    page.locator("#report-from").fill("2026-11-20")
    page.locator("#report-to").fill("2026-11-23")
    page.locator("#report-by").select_option("day")
    page.locator("#report-show").click()
    page.locator("body[data-charts=drawn]").wait_for()
    assert page.locator("#fig-calls").inner_text() == "6"
    assert page.locator("#fig-gross").inner_text() == "50.0 %"
    assert slice_rows(page) == {"2026-11-20": 2, "2026-11-21": 0, "2026-11-22": 0, "2026-11-23": 4}
    page.locator("#report-queue").select_option("loans")
    page.locator("#report-show").click()
    assert page.locator("#fig-calls").inner_text() == "2"
    assert page.locator("#report-refusals tbody").inner_text().split() == ["chat_closed", "1"]
    screenshot(page, "reports-days-loans")

    page.locator("#report-queue").select_option("")
    page.locator("#report-show").click()
    shown_calls = int(page.locator("#fig-calls").inner_text())
    shown_deflected = int(page.locator("#fig-deflected").inner_text().split()[0])
    with page.expect_download() as download:
        page.locator("#report-csv").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == shown_calls == 6
    assert sum(row["outcome"] == "deflected" for row in rows) == shown_deflected == 3
    assert all(row["caller"].startswith("…") and len(row["caller"]) == 5 for row in rows)
    assert all("2026-11-20" <= row["entered_at"][:10] <= "2026-11-23" for row in rows)
    assert not problems, problems


def test_bad_dates_and_an_empty_period_in_the_browser(page: Any, seeded: Any) -> None:
    sign_in(page, seeded, "viewer")
    response = page.goto("/admin/reports/?from=2026-11-24&to=2026-11-01")
    assert response.status == 400
    assert "ends before it starts" in page.locator("#report-problems").inner_text()
    screenshot(page, "reports-bad-period")
    page.goto("/admin/reports/?from=2026-10-01&to=2026-10-07")
    assert "No calls in this period" in page.locator("#report-empty").inner_text()
    assert "deflect demo seed" in page.locator("#report-empty").inner_text()
    screenshot(page, "reports-empty")

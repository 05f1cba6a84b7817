"""The audit log in the console: every change, newest first, filtered by who, what, subject and dates,
a page at a time, and the same filter as a CSV that a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from gateway.clock import ManualClock
from gateway.store.content import Change
from gateway.web.admin.audit import safe_cell
from tests.support.console import signed_in


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def record(app: Any, clock: ManualClock, actor: str, action: str, subject: str, **detail: Any) -> None:
    app.extensions["deflect"].content.store.record(Change(actor, action, subject, detail=detail), clock.now())


def rows(response: Any) -> list[dict[str, str]]:
    body = text(response).removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("role", ["viewer", "agent", "editor", "publisher"])
def test_the_audit_log_is_refused_to_every_role_but_admin(app: Any, role: str) -> None:
    console = signed_in(app, role)
    assert console.get("/admin/audit/").status_code == 403
    assert console.get("/admin/audit/export.csv").status_code == 403


def test_changes_from_the_cli_and_the_console_are_listed_newest_first(app: Any, clock: ManualClock) -> None:
    record(app, clock, "cli:deploy", "content.published", "flow:ru-bank-support")
    clock.advance(60)
    console = signed_in(app, "admin", "ops@example.com")
    console.post("/admin/operations/pause", {"reason": "overloaded"})

    page = text(console.get("/admin/audit/")).split('id="audit-entries"')[1]

    assert page.index("messaging.paused") < page.index("user.signed_in") < page.index("content.published")
    assert "cli:deploy" in page and "ops@example.com (console)" in page and "reason: overloaded" in page


def test_the_log_is_filtered_by_actor_action_subject_and_dates(app: Any, clock: ManualClock) -> None:
    record(app, clock, "cli:anna", "content.published", "flow:ru-bank-support")
    day_one = clock.now().date().isoformat()
    clock.advance(86400)
    record(app, clock, "cli:boris", "content.rolled_back", "flow:en-support")
    record(app, clock, "cli:anna", "messaging.paused", "messaging")
    day_two = clock.now().date().isoformat()
    console = signed_in(app, "admin")

    def shown(query: str) -> set[str]:
        page = text(console.get("/admin/audit/?" + query)).split("<datalist")[-1].split("</datalist>")[-1]
        return {a for a in ("content.published", "content.rolled_back", "messaging.paused") if a in page}

    assert shown("actor=ANNA") == {"content.published", "messaging.paused"}
    assert shown("action=content.") == {"content.published", "content.rolled_back"}
    assert shown("subject=en-support") == {"content.rolled_back"}
    assert shown(f"from={day_two}&to={day_two}&actor=cli") == {"content.rolled_back", "messaging.paused"}
    assert shown(f"to={day_one}") == {"content.published"}
    bad = console.get("/admin/audit/?from=yesterday")
    assert bad.status_code == 400 and 'id="audit-from-error"' in text(bad)


def test_the_log_is_paginated_and_pages_keep_the_filter(app: Any, clock: ManualClock) -> None:
    for n in range(60):
        record(app, clock, "cli:bulk", "content.imported", f"flow:f{n:02d}")
    console = signed_in(app, "admin")

    first = text(console.get("/admin/audit/?actor=bulk"))

    assert "Entries: 60" in first and "Page 1 of 2" in first
    assert "flow:f59" in first and "flow:f09" not in first
    assert 'href="/admin/audit/?page=2&amp;actor=bulk"' in first
    second = text(console.get("/admin/audit/?page=2&actor=bulk"))
    assert "flow:f09" in second and "flow:f59" not in second


def test_the_csv_export_has_the_filtered_rows_and_neutralises_formulas(app: Any, clock: ManualClock) -> None:
    record(app, clock, '=HYPERLINK("http://evil.example","x")', "user.added", "user:x@example.com")
    record(app, clock, "cli:anna", "user.role_changed", "@SUM(A1)", reason="-2+3")
    record(app, clock, "cli:anna", "content.published", "flow:ru-bank-support")
    console = signed_in(app, "admin")

    exported = console.get("/admin/audit/export.csv?action=user.added&subject=x%40example")
    formulas = console.get("/admin/audit/export.csv?action=user.role")

    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    [row] = rows(exported)
    assert row["actor"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["action"] == "user.added" and row["subject"] == "user:x@example.com"
    [row] = rows(formulas)
    assert row["subject"] == "'@SUM(A1)" and row["detail"] == '{"reason": "-2+3"}'
    everything = [r["action"] for r in rows(console.get("/admin/audit/export.csv?actor=i"))]
    assert everything[:3] == ["user.signed_in", "content.published", "user.role_changed"]  # newest first


def test_a_cell_starting_like_a_formula_is_quoted() -> None:
    for cell in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert safe_cell(cell) == "'" + cell
    assert safe_cell("cli:anna") == "cli:anna" and safe_cell("") == ""

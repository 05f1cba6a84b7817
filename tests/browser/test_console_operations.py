"""An admin pauses offers with a reason, sees who did it and why, finds it in the audit log and takes
the log away as CSV; the other roles do not reach these pages."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.browser.conftest import screenshot, sign_in


def test_pause_resume_and_the_audit_log(page: Any, app: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, app, "admin")
    page.goto("/admin/operations/")
    page.locator("#pause-reason").fill("SMS provider outage")
    page.locator("#pause-button").click()
    state = page.locator("#switch-state").inner_text()
    assert "admin@example.com" in state and "SMS provider outage" in state
    assert app.extensions["deflect"].guards.switch.paused()
    screenshot(page, "operations-paused")
    page.locator("#resume-reason").fill("provider back")
    page.locator("#resume-button").click()
    assert not app.extensions["deflect"].guards.switch.paused()

    page.goto("/admin/audit/")
    page.locator("#audit-action").fill("messaging.paused")
    page.locator("#audit-filter-button").click()
    rows = page.locator("#audit-entries tbody tr")
    assert rows.count() == 1 and "SMS provider outage" in rows.first.inner_text()
    screenshot(page, "audit-log")
    with page.expect_download() as download:
        page.locator("#audit-export").click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert [row["action"] for row in exported] == ["messaging.paused"]

    for path, name in (
        ("/admin/operations/consent", "operations-consent"),
        ("/admin/operations/outbox", "operations-outbox"),
        ("/admin/users/", "users"),
        ("/admin/agents/", "agents"),
    ):
        assert page.goto(path).status == 200
        screenshot(page, name)


def test_operations_and_audit_are_for_admins_only(browser: Any, live: Any, app: Any) -> None:
    for role in ("viewer", "agent", "editor", "publisher"):
        page = browser.new_context(base_url=live.url).new_page()
        sign_in(page, app, role)
        assert page.locator("nav.menu").get_by_text("Operations").count() == 0
        for path in ("/admin/operations/", "/admin/audit/", "/admin/users/"):
            assert page.goto(path).status == 403, (role, path)
        assert page.goto("/admin/agents/").status == (200 if role == "agent" else 403)
        page.context.close()

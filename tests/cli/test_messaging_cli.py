"""`deflect messaging pause|resume|status`: what an admin sees of offers, the budget and range pauses."""

from __future__ import annotations

import json
import re
from typing import Any

from click.testing import CliRunner

from gateway.cli import main
from gateway.deflection.limits import Limits, SmsGuard


def test_status_shows_a_tripped_range_and_how_to_lift_it(app: Any, cli_env: None) -> None:
    now = app.extensions["deflect"].clock.time()
    guard = SmsGuard(
        app.extensions["deflect"].redis,
        Limits(
            retext_seconds=0, per_prefix_hour=100, per_minute=100, per_day=100, sender_mps=1, trip_per_ndc=2
        ),
    )
    guard.claim("+79161110000", now)
    assert guard.claim("+79162220000", now).tripped
    status = CliRunner().invoke(main, ["messaging", "status"])
    assert status.exit_code == 0, status.output
    assert "offers         on" in status.output
    assert "ndc    +7916" in status.output and "2 SMS within 600 s" in status.output
    assert "deflect messaging resume --range +7916" in status.output
    lifted = CliRunner().invoke(main, ["messaging", "resume", "--range", "+7916"])
    assert lifted.exit_code == 0 and "offers to +7916 resumed" in lifted.output
    assert "range pauses   none" in CliRunner().invoke(main, ["messaging", "status"]).output
    unknown = CliRunner().invoke(main, ["messaging", "resume", "--range", "+7916"])
    assert unknown.exit_code == 1 and "no pause of range +7916" in unknown.output


def test_status_shows_who_paused_offers_when_and_why(app: Any, cli_env: None) -> None:
    runner = CliRunner()
    minute = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    paused = runner.invoke(main, ["messaging", "pause", "-m", "chat team overloaded", "--by", "anna"])
    assert paused.exit_code == 0, paused.output
    since = rf"since {minute} by anna: chat team overloaded"
    assert re.fullmatch(rf"offers PAUSED {since} \(deflect messaging resume\)\n", paused.stdout)
    assert re.search(rf"offers +PAUSED {since}", runner.invoke(main, ["messaging", "status"]).stdout)

    resumed = runner.invoke(main, ["messaging", "resume", "-m", "backlog cleared", "--by", "boris"])
    assert resumed.exit_code == 0, resumed.output
    status = runner.invoke(main, ["messaging", "status"]).stdout
    assert re.search(rf"offers +on since {minute} by boris: backlog cleared", status)
    audit = json.loads(runner.invoke(main, ["content", "audit", "--subject", "messaging", "--json"]).stdout)
    assert [(e["actor"], e["action"]) for e in audit] == [
        ("boris", "messaging.resumed"),
        ("anna", "messaging.paused"),
    ]


def test_a_pause_needs_a_reason(cli_env: None) -> None:
    result = CliRunner().invoke(main, ["messaging", "pause"])
    assert result.exit_code == 2
    assert "Missing option '--reason'" in result.output


def test_status_says_whether_offers_are_paused(cli_env: None) -> None:
    runner = CliRunner()

    def status() -> Any:
        return json.loads(runner.invoke(main, ["messaging", "status", "--json"]).stdout)

    assert status() == {
        "paused": False,
        "switch": {"paused": False, "by": None, "at": None, "reason": ""},
        "sms_today": 0,
        "sms_daily_budget": 2000,
        "range_pauses": [],
    }
    assert runner.invoke(main, ["messaging", "pause", "-m", "overloaded", "--by", "anna"]).exit_code == 0
    assert status()["paused"] is True
    assert status()["switch"]["by"] == "anna" and status()["switch"]["reason"] == "overloaded"
    assert runner.invoke(main, ["messaging", "resume"]).exit_code == 0
    assert status()["paused"] is False

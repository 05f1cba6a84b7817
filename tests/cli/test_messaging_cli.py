"""`deflect messaging pause|resume|status`: the switch for offers, readable by a person and a script."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gateway.cli import main


def test_status_says_whether_offers_are_paused(cli_env: None) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["messaging", "status"]).stdout == "offers on\n"
    assert json.loads(runner.invoke(main, ["messaging", "status", "--json"]).stdout) == {"paused": False}
    assert runner.invoke(main, ["messaging", "pause"]).exit_code == 0
    assert runner.invoke(main, ["messaging", "status"]).stdout == "offers paused\n"
    assert json.loads(runner.invoke(main, ["messaging", "status", "--json"]).stdout) == {"paused": True}
    assert runner.invoke(main, ["messaging", "resume"]).exit_code == 0
    assert json.loads(runner.invoke(main, ["messaging", "status", "--json"]).stdout) == {"paused": False}

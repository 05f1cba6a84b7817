"""`deflect flows validate|publish|rollback` and `deflect templates check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.clock import ManualClock
from tests.support.calls import Call

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "flows" / "broken"


@pytest.fixture
def env(cli_env: None) -> None:
    return cli_env


def test_validate_passes_on_the_shipped_flows() -> None:
    result = CliRunner().invoke(main, ["flows", "validate", str(ROOT / "ivr_flows")])
    assert result.exit_code == 0, result.output
    assert "all flows are valid" in result.output


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.yaml")))
def test_validate_reports_broken_flows_with_file_line_and_step(name: str) -> None:
    path = BROKEN / name
    expect = path.read_text().splitlines()[0].removeprefix("# expect: ")
    line = expect.split()[0].removeprefix("line=")
    result = CliRunner().invoke(main, ["flows", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{line}:" in result.output


def test_publish_reaches_running_processes_without_restart_and_rolls_back(
    app: Any, env: None, clock: ManualClock, tmp_path: Path
) -> None:
    call = Call(app.test_client())
    assert "службу поддержки банка" in call.incoming().said()
    edited = tmp_path / "ru.yaml"
    source = (ROOT / "ivr_flows" / "ru_bank_support.yaml").read_text(encoding="utf-8")
    edited.write_text(
        source.replace("Вы позвонили в службу поддержки банка", "Вы позвонили в Пример Банк"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["flows", "publish", str(edited), "--by", "anna"])
    assert result.exit_code == 0, result.output
    assert "published ru-bank-support version 2" in result.output

    registry = app.extensions["deflect"].flows
    registry._checked_at = float("-inf")  # as if the 5 s check interval had passed
    assert "Пример Банк" in Call(app.test_client()).incoming().said()
    # A call that started on version 1 finishes on version 1.
    assert call.press(call.incoming(), "1").status == 200

    result = CliRunner().invoke(main, ["flows", "rollback", "ru-bank-support"])
    assert result.exit_code == 0, result.output
    registry._checked_at = float("-inf")
    assert "службу поддержки банка" in Call(app.test_client()).incoming().said()


def test_publishing_a_broken_flow_is_refused(app: Any, env: None) -> None:
    result = CliRunner().invoke(main, ["flows", "publish", str(BROKEN / "unknown_step.yaml")])
    assert result.exit_code == 1
    assert "unknown_step.yaml:" in result.output


def test_templates_check_lists_encoding_and_segments(env: None) -> None:
    result = CliRunner().invoke(main, ["templates", "check"])
    assert result.exit_code == 0, result.output
    assert "ru-RU/whatsapp_link: UCS-2" in result.output
    assert "en-US/whatsapp_link: GSM-7" in result.output
    strict = CliRunner().invoke(main, ["templates", "check", "--max-segments", "1"])
    assert "WARNING  ru-RU/whatsapp_link" in strict.output


def test_validate_reports_an_offer_whose_sms_template_does_not_exist(tmp_path: Path) -> None:
    source = (ROOT / "ivr_flows" / "en_support.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "en.yaml"
    broken.write_text(
        source.replace("sms_template: whatsapp_link", "sms_template: no_such_text"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["flows", "validate", str(broken)])
    assert result.exit_code == 1
    assert "offer uses an SMS template that does not exist: en-support/billing_queue: en-US/no_such_text" in (
        result.output
    )

"""`deflect flows validate` and `deflect templates check` (publishing is `deflect content`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main

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

"""`deflect flows validate` (publishing is `deflect content`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "flows" / "broken"


@pytest.fixture
def messengers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The messengers the shipped flows offer, configured."""
    monkeypatch.setenv("DEFLECT_WHATSAPP_NUMBER", "+77001234567")
    monkeypatch.setenv("DEFLECT_TELEGRAM_BOT", "ExampleBankBot")


def test_validate_passes_on_the_shipped_flows(messengers: None) -> None:
    result = CliRunner().invoke(main, ["flows", "validate", str(ROOT / "ivr_flows")])
    assert result.exit_code == 0, result.output
    assert "all flows are valid" in result.output


def test_validate_reports_an_offered_messenger_that_is_not_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEFLECT_WHATSAPP_NUMBER", "+77001234567")
    monkeypatch.delenv("DEFLECT_TELEGRAM_BOT", raising=False)
    path = ROOT / "ivr_flows" / "ru_bank_support.yaml"
    line = _line(path, "channels: [whatsapp, telegram]")
    result = CliRunner().invoke(main, ["flows", "validate", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}:{line}: step 'cards_queue': wait.offer.channels.1: Telegram is not configured "
        "(DEFLECT_TELEGRAM_BOT): callers are never offered it",
        f"1 problem in {path}",
    ]


def test_validate_lists_every_problem_of_a_file_in_file_order(messengers: None) -> None:
    path = BROKEN / "several_problems.yaml"
    result = CliRunner().invoke(main, ["flows", "validate", str(path)])
    assert result.exit_code == 1
    expected = [text.split()[2].removeprefix("line=") for text in path.read_text().splitlines()[:5]]
    assert [line.split(":")[1] for line in result.output.splitlines()[:-1]] == expected
    assert result.output.splitlines()[-1] == f"5 problems in {path}"


def test_validate_reports_a_handoff_route_that_routes_nothing(
    messengers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFLECT_HANDOFF_ROUTES", "bank-cards=card, bank-card=card, ru-bank-support=card")
    result = CliRunner().invoke(main, ["flows", "validate", str(ROOT / "ivr_flows")])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "DEFLECT_HANDOFF_ROUTES: 'bank-card' is neither a queue an enqueue step uses nor a flow id "
        "(did you mean 'bank-cards'?): no chat is routed by it"
    )


def test_validate_of_one_file_counts_the_queues_of_the_other_flows(messengers: None, tmp_path: Path) -> None:
    source = (ROOT / "ivr_flows" / "en_support.yaml").read_text(encoding="utf-8")
    edited = tmp_path / "en.yaml"
    edited.write_text(
        source.replace("        queue: support\n", "        queue: bank-cards\n"), encoding="utf-8"
    )
    assert "queue: bank-cards" in edited.read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["flows", "validate", str(edited)])
    assert result.exit_code == 0, result.output
    edited.write_text(
        source.replace("        queue: support\n", "        queue: bank-card\n"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["flows", "validate", str(edited)])
    assert result.exit_code == 1
    assert (
        "when.1.queue: no enqueue step uses queue 'bank-card' (did you mean 'bank-cards'?)" in result.output
    )


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.yaml")))
def test_validate_reports_broken_flows_with_file_line_and_step(name: str) -> None:
    path = BROKEN / name
    expect = path.read_text().splitlines()[0].removeprefix("# expect: ")
    line = expect.split()[0].removeprefix("line=")
    result = CliRunner().invoke(main, ["flows", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{line}:" in result.output


def test_validate_reports_an_offer_whose_sms_template_does_not_exist(
    messengers: None, tmp_path: Path
) -> None:
    source = (ROOT / "ivr_flows" / "en_support.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "en.yaml"
    broken.write_text(
        source.replace("sms_template: whatsapp_link", "sms_template: no_such_text"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["flows", "validate", str(broken)])
    assert result.exit_code == 1
    line = _line(broken, "sms_template: no_such_text")
    assert result.output.splitlines()[0] == (
        f"{broken}:{line}: step 'billing_queue': wait.offer.sms_template: no SMS template en-US/no_such_text "
        "(en-US has channel_choice, chat_ack, whatsapp_link)"
    )


def _line(path: Path, written: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if written in line)

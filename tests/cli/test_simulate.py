"""`deflect simulate`: a whole call in the terminal, at any hour, at any queue position, with spoken
answers, and with a flow file that is not published."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.cli import main
from gateway.store.models import ContentVersion
from tests.support.calls import Call

ROOT = Path(__file__).resolve().parents[2]
BANK = ["--to", "+74952223344"]
OFFER = "Не хотите ждать на линии?"


def simulate(*args: str) -> Any:
    return CliRunner().invoke(main, ["simulate", *args])


def test_simulate_plays_a_whole_deflected_call(cli_env: None) -> None:
    result = simulate(*BANK, "--at", "open", "--from", "+77011234567", "--keys", "1,2,,w120,1,1")
    assert result.exit_code == 0, result.output
    assert "🔊 Здравствуйте!" in result.output
    assert "⏳ waiting in queue 'bank-cards'" in result.output
    assert "заканчивается на 45 67" in result.output
    assert "↪ leaves the queue" in result.output


def test_a_call_placed_at_night_in_the_flows_time_zone_hears_the_closed_menu(cli_env: None) -> None:
    night = simulate(*BANK, "--at", "2026-11-24T23:00", "--keys", "")
    assert night.exit_code == 0, night.output
    assert "time      2026-11-24 23:00 MSK" in night.output
    assert "Сейчас операторы не работают" in night.output
    noon = simulate(*BANK, "--at", "2026-11-24T12:00", "--keys", "")
    assert "Пожалуйста, выберите тему" in noon.output
    assert "Сейчас операторы не работают" not in noon.output


def test_a_time_with_its_own_offset_is_taken_as_given(cli_env: None) -> None:
    result = simulate(*BANK, "--at", "2026-11-24T20:30+00:00", "--keys", "")  # 23:30 in Moscow
    assert "time      2026-11-24 23:30 MSK" in result.output
    assert "Сейчас операторы не работают" in result.output


def test_an_unreadable_time_is_refused_before_the_call(cli_env: None) -> None:
    result = simulate(*BANK, "--at", "noonish", "--keys", "")
    assert result.exit_code == 2
    assert "--at" in result.output and "Calling" not in result.output


def test_the_queue_position_decides_whether_the_offer_comes_at_once(cli_env: None) -> None:
    """The bank's flow offers at once from position 3 back, otherwise after 45 s in the queue."""
    at_once = ["--at", "open", "--keys", "1,2,,q"]
    front = simulate(*BANK, "--position", "1", *at_once)
    assert front.exit_code == 0, front.output
    assert "Ваш номер в очереди: 1." in front.output
    assert OFFER not in front.output
    further = simulate(*BANK, "--position", "4", *at_once)
    assert "Ваш номер в очереди: 4." in further.output
    assert OFFER in further.output
    waited = simulate(*BANK, "--position", "1", "--at", "open", "--keys", "1,2,w60,,q")
    assert OFFER in waited.output


def test_the_average_wait_is_announced_as_twilio_reports_it(cli_env: None) -> None:
    result = simulate(*BANK, "--avg-wait", "600", "--at", "open", "--keys", "1,2,q")
    assert "Примерное время ожидания в минутах: 10." in result.output


def test_a_spoken_answer_chooses_the_menu_option(cli_env: None) -> None:
    result = simulate(*BANK, "--at", "open", "--keys", "s:Мне по кредиту,q")
    assert result.exit_code == 0, result.output
    assert "Соединяю со специалистом по кредитам" in result.output


def test_speech_at_a_prompt_that_takes_only_keys_is_not_heard(cli_env: None) -> None:
    result = simulate(*BANK, "--at", "open", "--keys", "1,2,s:да,q")
    assert "(this prompt takes keys only)" in result.output
    assert "заканчивается на" not in result.output


def test_an_unpublished_flow_file_is_played_without_publishing_it(
    cli_env: None, app: Any, tmp_path: Path
) -> None:
    edited = tmp_path / "draft.yaml"
    source = (ROOT / "ivr_flows" / "ru_bank_support.yaml").read_text(encoding="utf-8")
    edited.write_text(source.replace("службу поддержки банка", "Пример Банк"), encoding="utf-8")
    result = simulate("--flow", str(edited), "--at", "open", "--keys", "q")
    assert result.exit_code == 0, result.output
    assert "🔊 Здравствуйте! Вы позвонили в Пример Банк." in result.output
    # Real calls still hear the published text: nothing was published.
    with app.extensions["deflect"].database.session() as session:
        # Only the version the store started from (the shipped file): the played file was not published.
        assert session.scalar(select(func.count(ContentVersion.id)).where(ContentVersion.kind == "flow")) == 2
    assert "службу поддержки банка" in Call(app.test_client()).incoming().said()


def test_a_broken_flow_file_is_not_played(cli_env: None) -> None:
    result = simulate("--flow", str(ROOT / "tests" / "flows" / "broken" / "unknown_step.yaml"), "--keys", "q")
    assert result.exit_code == 1
    assert "unknown_step.yaml:" in result.output and "Calling" not in result.output


def test_a_flow_file_naming_a_missing_sms_text_is_not_played(cli_env: None, tmp_path: Path) -> None:
    edited = tmp_path / "draft.yaml"
    source = (ROOT / "ivr_flows" / "ru_bank_support.yaml").read_text(encoding="utf-8")
    edited.write_text(source.replace("sms_template: channel_choice", "sms_template: gone"), encoding="utf-8")
    line = next(
        i for i, text in enumerate(edited.read_text().splitlines(), 1) if "sms_template: gone" in text
    )
    result = simulate("--flow", str(edited), "--keys", "q")
    assert result.exit_code == 1
    assert f"{edited}:{line}: step 'cards_queue': wait.offer.sms_template: no SMS template ru-RU/gone" in (
        result.output
    )
    assert "Calling" not in result.output


@pytest.mark.parametrize("run", [1, 2])
def test_each_run_of_the_readme_example_gets_its_sms(cli_env: None, run: int) -> None:
    """The default caller is a new mobile number each time: the once-a-day limit never refuses a rerun."""
    args = [*BANK, "--at", "open", "--keys", "1,2,,w120,1,1"]
    first, second = simulate(*args), simulate(*args)
    for result in (first, second):
        assert result.exit_code == 0, result.output
        assert "Мы отправили сообщение" in result.output


def test_simulate_draft_plays_the_drafts_while_calls_keep_the_live_versions(cli_env: None, app: Any) -> None:
    content = app.extensions["deflect"].content
    flow = (ROOT / "ivr_flows" / "ru_bank_support.yaml").read_text(encoding="utf-8")
    content.save_draft(
        "flow", {"ru_bank_support.yaml": flow.replace("службу поддержки банка", "Пример Банк")}, actor="anna"
    )
    voice = (ROOT / "voice_texts" / "ru-RU.yaml").read_text(encoding="utf-8")
    consent = voice.replace("consent_version: 1", "consent_version: 2").replace(
        "Мы отправим SMS со ссылкой на чат в {channel} на номер", "Пришлём ссылку в {channel} на номер"
    )
    assert content.save_draft("voice", {"ru-RU.yaml": consent}, actor="anna").problems == []
    keys = ["--at", "open", "--keys", "1,2,,w120,1,q"]

    drafted = simulate(*BANK, "--draft", *keys)
    live = simulate(*BANK, *keys)

    assert drafted.exit_code == 0, drafted.output
    assert "draft     flow ru-bank-support (started from v1, not published)" in drafted.output
    assert "🔊 Здравствуйте! Вы позвонили в Пример Банк." in drafted.output
    assert "Пришлём ссылку в WhatsApp" in drafted.output
    assert live.exit_code == 0, live.output
    assert "Пример Банк" not in live.output and "Пришлём ссылку" not in live.output
    assert "службу поддержки банка" in Call(app.test_client()).incoming().said()


def test_simulate_says_which_variant_of_an_offer_experiment_the_call_got(cli_env: None) -> None:
    flow = ROOT / "tests" / "flows" / "offer_experiment.yaml"
    result = simulate("--flow", str(flow), "--keys", "w60,w40,q")
    assert result.exit_code == 0, result.output
    found = re.search(r"🧪 offer experiment: this call is in variant '(early|late)'", result.output)
    assert found, result.output
    # What the call hears follows its variant: early at 60 s, late (other words) only at 90 s.
    before, _, after = result.output.partition("w40")
    if found.group(1) == "early":
        assert "🔊 Не хотите ждать?" in before
    else:
        assert "🔊 Ожидание может занять время." not in before and "Не хотите ждать?" not in result.output
        assert "🔊 Ожидание может занять время." in after

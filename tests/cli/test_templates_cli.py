"""`deflect templates check|preview`: what an SMS text costs, and one text exactly as a caller would
receive it, before anything is published."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.cli import main
from gateway.clock import ManualClock
from gateway.deflection.preview import SAMPLE_LINK_TOKEN, SAMPLE_REFERENCE
from gateway.store.models import AuditEntry, Chat, ConsentRecord, DevInboxMessage, SmsOutbox
from tests.deflection.conftest import reach_consent, run_jobs
from tests.support.calls import Call

ROOT = Path(__file__).resolve().parents[2]
SHORT_LINK = re.compile(r"https://voice\.example\.test/l/[A-Za-z0-9_-]{22}")


def preview(*args: str) -> Any:
    return CliRunner().invoke(main, ["templates", "preview", *args])


def shown(*args: str) -> dict[str, Any]:
    result = preview(*args, "--json")
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


@pytest.fixture
def messengers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The messengers the shipped Russian flow offers (WhatsApp and Telegram), configured."""
    monkeypatch.setenv("DEFLECT_TELEGRAM_BOT", "ExampleBankBot")


def test_templates_check_lists_encoding_and_segments(cli_env: None) -> None:
    result = CliRunner().invoke(main, ["templates", "check"])
    assert result.exit_code == 0, result.output
    assert "ru-RU/whatsapp_link: UCS-2" in result.output
    assert "en-US/whatsapp_link: GSM-7" in result.output
    strict = CliRunner().invoke(main, ["templates", "check", "--max-segments", "1"])
    assert "WARNING  ru-RU/whatsapp_link" in strict.output


def test_russian_preview_is_the_text_with_a_short_link_in_ucs2_and_two_segments(
    app: Any, cli_env: None
) -> None:
    result = preview("whatsapp_link", "--locale", "ru")
    assert result.exit_code == 0, result.output
    text, link = result.stdout.split("\n")[:2]
    assert text == f"Example Bank: продолжим в WhatsApp, оператор увидит ваш звонок. Номер {SAMPLE_REFERENCE}"
    assert SHORT_LINK.fullmatch(link) and link.endswith(SAMPLE_LINK_TOKEN)
    figures = result.stdout.split("\n")[3:]
    assert figures[:3] == ["encoding  UCS-2", "length    128 UTF-16 units", "segments  2 (67 per segment)"]
    assert "WARNING" not in result.stdout
    assert "ru-RU/whatsapp_link (version 1), link mode short" in result.stderr
    assert "the reference and link token are samples" in result.stderr


def test_english_preview_fits_one_gsm7_segment(app: Any, cli_env: None) -> None:
    result = shown("whatsapp_link", "--locale", "en-US")
    assert (result["encoding"], result["segments"], result["per_segment"]) == ("GSM-7", 1, 160)
    assert result["length"] == len(result["text"]) == 137
    assert result["non_gsm_chars"] == []


def test_preview_json_gives_the_text_its_cost_and_what_it_was_made_of(
    app: Any, cli_env: None, messengers: None
) -> None:
    result = shown("channel_choice", "--locale", "ru")
    assert set(result) == {
        "locale", "name", "version", "link_mode", "channels", "text", "encoding", "length", "segments",
        "per_segment", "non_gsm_chars", "max_segments", "over_max_segments", "sample",
    }  # fmt: skip
    assert (result["locale"], result["name"], result["version"], result["link_mode"]) == (
        "ru-RU",
        "channel_choice",
        1,
        "short",
    )
    assert result["channels"] == ["whatsapp", "telegram"]  # every configured messenger, by default
    assert result["text"].startswith("Example Bank: выберите WhatsApp или Telegram, оператор видит звонок.")
    assert (result["encoding"], result["segments"], result["over_max_segments"]) == ("UCS-2", 2, False)
    one = shown("channel_choice", "--locale", "ru", "--channels", "telegram")
    assert one["channels"] == ["telegram"]
    assert one["text"].startswith("Example Bank: продолжим в Telegram, оператор видит звонок.")


def test_direct_link_mode_puts_the_messenger_link_in_the_sms_and_warns_of_its_cost(
    app: Any, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFLECT_LINK_MODE", "direct")
    result = preview("whatsapp_link", "--locale", "ru", "--channels", "whatsapp")
    assert result.exit_code == 0, result.output
    link = result.stdout.split("\n")[1]
    assert link.startswith("https://wa.me/77001234567?text=%D0%97%D0%B4")  # "Здравствуйте", pre-filled
    assert link.endswith(f"%2C%20%D0%BD%D0%BE%D0%BC%D0%B5%D1%80%20{SAMPLE_REFERENCE}")  # ", номер K7XAMN"
    assert "segments  7 (67 per segment)" in result.stdout
    assert "WARNING   7 segments, more than DEFLECT_MAX_SEGMENTS=2: every SMS costs 7 times" in result.stdout
    as_json = shown("whatsapp_link", "--locale", "ru", "--channels", "whatsapp")
    assert (as_json["link_mode"], as_json["segments"], as_json["over_max_segments"]) == ("direct", 7, True)


def test_an_unknown_text_or_locale_is_wrong_usage_and_lists_what_exists(app: Any, cli_env: None) -> None:
    name = preview("no_such_text", "--locale", "ru-RU")
    assert name.exit_code == 2
    assert (
        "Invalid value for NAME: no SMS text 'no_such_text' in ru-RU (version 1) "
        "(texts: channel_choice, chat_ack, whatsapp_link)"
    ) in name.output
    locale = preview("whatsapp_link", "--locale", "de")
    assert locale.exit_code == 2
    assert "Invalid value for --locale: no SMS texts for locale 'de' (locales: en-US, ru-RU)" in locale.output
    version = preview("whatsapp_link", "--locale", "ru", "--version", "7")
    assert version.exit_code == 2
    assert "the SMS texts of ru-RU have no version 7 (versions: 1)" in version.output
    channel = preview("whatsapp_link", "--locale", "ru", "--channels", "sms")
    assert channel.exit_code == 2
    assert "unknown channel sms (channels: whatsapp, telegram, viber)" in channel.output
    viber = preview("whatsapp_link", "--locale", "ru", "--channels", "viber")
    assert viber.exit_code == 1
    assert "viber not configured" in viber.output


def test_draft_is_previewed_while_the_live_text_stays(app: Any, cli_env: None, tmp_path: Path) -> None:
    texts = tmp_path / "ru-RU"
    shutil.copytree(ROOT / "sms_templates" / "ru-RU", texts)
    (texts / "whatsapp_link.txt").write_text(
        "{{ brand }}: пишите нам в WhatsApp. Номер {{ reference }}\n{{ link }}\n", encoding="utf-8"
    )
    assert preview("whatsapp_link", "--locale", "ru", "--draft").exit_code == 1  # no draft yet
    drafted = CliRunner().invoke(main, ["content", "draft", "sms", str(texts)])
    assert drafted.exit_code == 0, drafted.output

    draft = shown("whatsapp_link", "--locale", "ru", "--draft")
    assert draft["version"] == "draft"
    assert draft["text"].startswith(f"Example Bank: пишите нам в WhatsApp. Номер {SAMPLE_REFERENCE}\n")
    live = shown("whatsapp_link", "--locale", "ru")
    assert live["version"] == 1
    assert live["text"].startswith("Example Bank: продолжим в WhatsApp, оператор увидит ваш звонок.")
    assert shown("whatsapp_link", "--locale", "ru", "--version", "1") == live


def test_a_draft_with_problems_is_not_previewed_and_its_problems_are_listed(
    app: Any, cli_env: None, tmp_path: Path
) -> None:
    texts = tmp_path / "ru-RU"
    shutil.copytree(ROOT / "sms_templates" / "ru-RU", texts)
    (texts / "whatsapp_link.txt").write_text("{{ brand }}: {{ no_such_value }}\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["content", "draft", "sms", str(texts)]).exit_code == 1
    result = preview("whatsapp_link", "--locale", "ru", "--draft")
    assert result.exit_code == 1
    assert "the draft of the SMS texts of ru-RU has problems:" in result.output
    assert "ru-RU/whatsapp_link.txt" in result.output and "no_such_value" in result.output


def test_preview_writes_nothing_and_needs_no_running_gateway(
    app: Any, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL")  # and no gateway runs with this data directory: no Redis at all
    database = app.extensions["deflect"].database

    def rows() -> list[int]:
        with database.session() as session:
            return [
                session.scalar(select(func.count()).select_from(table)) or 0
                for table in (Chat, SmsOutbox, ConsentRecord, DevInboxMessage, AuditEntry)
            ]

    before = rows()
    assert before[:4] == [0, 0, 0, 0]
    for args in (["whatsapp_link", "--locale", "ru"], ["channel_choice", "--locale", "en", "--json"]):
        result = preview(*args)
        assert result.exit_code == 0, result.output
    assert rows() == before


def test_preview_is_what_an_accepted_offer_sends(
    app: Any, cli_env: None, messengers: None, call: Call, clock: ManualClock
) -> None:
    """A whole call on the shipped Russian flow: the SMS in the dev inbox is the preview of the flow's
    text, with the session's own reference and link token in place of the samples."""
    call.press(reach_consent(call, clock), "1")
    run_jobs(app)
    with app.extensions["deflect"].database.session() as session:
        [sent] = session.scalars(select(DevInboxMessage)).all()
        [chat] = session.scalars(select(Chat)).all()
        reference, token, offered = chat.reference, chat.link_token, chat.channels["offered"]
    assert offered == ["whatsapp", "telegram"]

    result = shown("channel_choice", "--locale", "ru-RU", "--channels", ",".join(offered))
    expected = result["text"].replace(SAMPLE_REFERENCE, reference).replace(SAMPLE_LINK_TOKEN, token)
    assert sent.body == expected
    assert SHORT_LINK.search(sent.body)

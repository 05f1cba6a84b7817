"""What the caller hears in the deflection dialogue comes from the voice texts of the flow's locale: every
shipped key renders as TwiML, a recorded locale (kk-KZ) plays its recordings with the changing digits
said between them, and the consent ledger keeps the words heard with the consent text's version."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from gateway.calls.state_store import CallStateStore
from gateway.cli import main
from gateway.clock import ManualClock
from gateway.content.service import ContentError
from gateway.deflection import twiml
from gateway.deflection.prompts import consent_hash
from gateway.flows.loader import load_flow
from gateway.flows.voice_text_set import VoiceTextSet
from gateway.flows.voice_texts import KEYS
from gateway.settings import SettingsError
from gateway.store.models import ConsentRecord
from tests.deflection.conftest import reach_consent, reach_offer, run_jobs
from tests.support.calls import Call, TwiML

ROOT = Path(__file__).resolve().parents[2]
FLOW = load_flow(ROOT / "ivr_flows" / "ru_bank_support.yaml")
VOICE_TEXTS = VoiceTextSet.load(ROOT / "voice_texts")
SAMPLE = {"channel": "WhatsApp", "ending": "45 67", "digits": "7, 9, 0, 3"}
RECORDINGS = "https://voice.example.com/kk-KZ/"


def _ledger(app: Any) -> list[ConsentRecord]:
    with app.extensions["deflect"].database.session() as session:
        rows = list(session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
        session.expunge_all()
        return rows


@pytest.mark.parametrize("locale", VOICE_TEXTS.locales)
@pytest.mark.parametrize("key", list(KEYS))
def test_every_shipped_voice_text_renders_as_say_or_play(locale: str, key: str) -> None:
    speech = getattr(VOICE_TEXTS.texts_for(locale), key).fill(**SAMPLE)
    response = VoiceResponse()
    twiml.speak(response, FLOW, speech)

    heard = list(ET.fromstring(str(response)))

    assert [verb.tag for verb in heard] == ["Play" if part.audio else "Say" for part in speech.parts]
    for verb, part in zip(heard, speech.parts, strict=True):
        if verb.tag == "Play":
            assert verb.text == part.audio and verb.text.startswith("https://")
        else:
            assert verb.text == part.text and "{" not in verb.text
            assert verb.attrib["voice"] == (part.voice or FLOW.voice)
            assert verb.attrib["language"] == (part.language or FLOW.locale)


@pytest.fixture
def kazakh_app(make_app: Any, tmp_path: Path) -> Any:
    """The shipped flows, with the Russian bank line answering in kk-KZ (with kk-KZ SMS texts, copied
    from Russian: the SMS is not what this is about). No kk-KZ flow is shipped."""
    flows, templates = tmp_path / "flows", tmp_path / "sms_templates"
    shutil.copytree(ROOT / "ivr_flows", flows)
    shutil.copytree(ROOT / "sms_templates", templates)
    shutil.copytree(templates / "ru-RU", templates / "kk-KZ")
    bank = flows / "ru_bank_support.yaml"
    bank.write_text(
        bank.read_text(encoding="utf-8").replace("locale: ru-RU", "locale: kk-KZ"), encoding="utf-8"
    )
    return make_app(DEFLECT_FLOWS_DIR=str(flows), DEFLECT_TEMPLATES_DIR=str(templates))


def _consent_heard(consent: TwiML) -> list[tuple[str, str | None, str | None]]:
    return [(verb.tag, verb.text, verb.get("language")) for verb in consent.find("Gather")]


def test_a_kazakh_caller_hears_the_recorded_consent_and_the_ledger_keeps_its_words(
    kazakh_app: Any, clock: ManualClock
) -> None:
    call = Call(kazakh_app.test_client())

    consent = reach_consent(call, clock)

    assert _consent_heard(consent) == [
        ("Play", RECORDINGS + "consent-1.mp3", None),
        ("Say", "WhatsApp или Телеграм.", "ru-RU"),
        ("Play", RECORDINGS + "consent-2.mp3", None),
        ("Say", "45 67.", "ru-RU"),
        ("Play", RECORDINGS + "consent-3.mp3", None),
    ]
    assert {say.get("voice") for say in consent.all("Say")} == {"Polly.Tatyana"}

    sending = call.press(consent, "1")
    run_jobs(kazakh_app)
    sent = call.post(sending.find("Redirect").text or "")

    assert [(verb.tag, verb.text) for verb in sent.root] == [
        ("Play", RECORDINGS + "sent-1.mp3"),
        ("Say", "45 67."),
        ("Play", RECORDINGS + "sent-2.mp3"),
        ("Leave", None),
    ]
    [record] = _ledger(kazakh_app)
    words = (
        "Чатқа сілтемесі бар SMS жібереміз. Чат мына мессенджерде ашылады: WhatsApp или Телеграм. "
        "Хабарлама нөмірі мына сандармен аяқталатын телефонға келеді: 45 67. Сілтеме арқылы оператормен "
        "сөйлесуді чатта жалғастырасыз. Бұл хабарламаны алуға келісетін болсаңыз, 1-ді басыңыз. Желіде "
        "қалу үшін 2-ні басыңыз."
    )
    assert (record.prompt_version, record.prompt_text) == ("kk-KZ/consent-v1", words)
    assert record.prompt_sha256 == consent_hash(words)


def test_the_ledger_shows_which_version_of_the_consent_text_was_agreed_to(
    make_app: Any, clock: ManualClock
) -> None:
    app = make_app()
    call = Call(app.test_client())

    call.press(reach_consent(call, clock), "1")

    [record] = _ledger(app)
    assert (record.call_sid, record.prompt_version) == (call.call_sid, "ru-RU/consent-v1")
    assert record.prompt_text.startswith(
        "Мы отправим SMS со ссылкой на чат в WhatsApp или Телеграм на номер, который заканчивается на 45 67."
    )


def test_a_consent_asked_before_versions_were_kept_records_todays_version(
    make_app: Any, clock: ManualClock
) -> None:
    app = make_app()
    call = Call(app.test_client())
    consent = reach_consent(call, clock)
    states = CallStateStore(app.extensions["deflect"].redis)
    state = states.load(call.call_sid)
    assert state is not None and state.deflection.prompt_version == "ru-RU/consent-v1"
    state.deflection.prompt_version = ""  # as a process of the previous release left it
    states.save(state)

    call.press(consent, "1")

    [record] = _ledger(app)
    assert record.prompt_version == "ru-RU/consent-v1"
    assert record.prompt_text == state.deflection.prompt


def test_an_admin_changes_the_consent_wording_with_a_file_and_its_new_version_is_recorded(
    make_app: Any, clock: ManualClock, tmp_path: Path
) -> None:
    texts = tmp_path / "voice_texts"
    shutil.copytree(ROOT / "voice_texts", texts)
    russian = texts / "ru-RU.yaml"
    russian.write_text(
        russian.read_text(encoding="utf-8")
        .replace("consent_version: 1", "consent_version: 2")
        .replace(
            "Мы отправим SMS со ссылкой на чат в {channel} на номер",
            "Пришлём SMS со ссылкой на чат в {channel} на номер",
        ),
        encoding="utf-8",
    )
    app = make_app(DEFLECT_VOICE_TEXTS_DIR=str(texts))
    call = Call(app.test_client())

    consent = reach_consent(call, clock)
    call.press(consent, "1")

    assert consent.said().startswith("Пришлём SMS со ссылкой на чат в WhatsApp или Телеграм на номер")
    [record] = _ledger(app)
    assert record.prompt_version == "ru-RU/consent-v2"
    assert record.prompt_text == consent.said()


def test_start_up_refuses_voice_texts_with_problems_and_names_them(make_app: Any, tmp_path: Path) -> None:
    texts = tmp_path / "voice_texts"
    shutil.copytree(ROOT / "voice_texts", texts)
    english = texts / "en-US.yaml"
    english.write_text(english.read_text(encoding="utf-8").replace("{ending}", "{number}"), encoding="utf-8")

    with pytest.raises(SettingsError) as refused:
        make_app(DEFLECT_VOICE_TEXTS_DIR=str(texts))

    message = str(refused.value)
    assert message.startswith("DEFLECT_VOICE_TEXTS_DIR: the voice texts have problems:\n")
    assert f"{english}:" in message and "step 'consent': unknown placeholder {number}" in message
    assert "step 'sent': unknown placeholder {number}" in message


def _new_russian_consent(version: int) -> dict[str, str]:
    text = (ROOT / "voice_texts" / "ru-RU.yaml").read_text(encoding="utf-8")
    edited = text.replace(
        "Мы отправим SMS со ссылкой на чат в {channel} на номер", "Пришлём ссылку в {channel} на номер"
    )
    assert edited != text
    return {"ru-RU.yaml": edited.replace("consent_version: 1", f"consent_version: {version}")}


def test_a_consent_wording_published_mid_call_reaches_new_calls_not_the_call_in_progress(
    make_app: Any, clock: ManualClock, cli_env: None
) -> None:
    app = make_app()
    services = app.extensions["deflect"]
    services.registry.check_interval = 0  # this process follows the live pointers at every request
    waiting = Call(app.test_client(), caller="+79161234567")
    offer = reach_offer(waiting, clock)

    services.content.save_draft("voice", _new_russian_consent(2), actor="anna")
    outcome = services.content.publish("voice", "ru-RU", actor="anna", comment="shorter consent")
    assert (outcome.version, outcome.created) == (2, True)

    newcomer = Call(app.test_client(), caller="+79161234568")
    asked = reach_consent(newcomer, clock)
    assert asked.said().startswith("Пришлём ссылку в WhatsApp или Телеграм на номер")
    heard = waiting.press(offer, "1")
    assert heard.said().startswith("Мы отправим SMS со ссылкой на чат в WhatsApp или Телеграм на номер")
    waiting.press(heard, "1")
    newcomer.press(asked, "1")

    ledger = {record.number: record for record in _ledger(app)}
    assert (ledger[waiting.caller].prompt_version, ledger[waiting.caller].prompt_text) == (
        "ru-RU/consent-v1",
        heard.said(),
    )
    assert ledger[newcomer.caller].prompt_version == "ru-RU/consent-v2"
    exported = CliRunner().invoke(main, ["consent", "export", "--number", newcomer.caller])
    assert json.loads(exported.stdout)["prompt_version"] == "ru-RU/consent-v2"


def test_new_consent_words_under_the_same_consent_version_cannot_be_published(make_app: Any) -> None:
    content = make_app().extensions["deflect"].content

    draft = content.save_draft("voice", _new_russian_consent(1), actor="anna")

    assert draft.problems == [
        "ru-RU.yaml:11: step 'consent': the consent words changed but consent_version did not: raise it "
        "above 1 (the consent ledger records it with each consent)"
    ]
    with pytest.raises(ContentError, match="has problems"):
        content.publish("voice", "ru-RU", actor="anna", comment="same version")
    assert content.status("voice", "ru-RU").live == 1

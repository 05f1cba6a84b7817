"""The voice texts of the deflection dialogue are files, one per locale: every shipped file loads and
fits the published schema, a broken file reports all its problems with line and key, a flow finds its
locale's texts, and adding a locale is adding a file."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from gateway.flows.loader import Problem
from gateway.flows.voice_text_set import (
    VoiceTextError,
    VoiceTextSet,
    check_voice_texts,
    parse_voice_texts,
    voice_text_files,
)
from gateway.flows.voice_texts import KEYS, Speech, Texts, VoiceTexts, render_schema
from tests.flows.helpers import ROOT

VOICE_TEXTS_DIR = ROOT / "voice_texts"
SHIPPED = sorted(VOICE_TEXTS_DIR.glob("*.yaml"))
SCHEMA = ROOT / "gateway" / "flows" / "voice_texts.schema.json"
ENGLISH = (VOICE_TEXTS_DIR / "en-US.yaml").read_text(encoding="utf-8")


def _problems(text: str, name: str = "voice_texts/en-GB.yaml") -> list[tuple[int | None, str | None, str]]:
    texts, problems = parse_voice_texts(text, name)
    assert texts is None
    assert {p.file for p in problems} == {name}
    return [(p.line, p.step, p.message) for p in problems]


def test_russian_english_and_kazakh_are_shipped() -> None:
    assert [p.name for p in SHIPPED] == ["en-US.yaml", "kk-KZ.yaml", "ru-RU.yaml"]
    assert VoiceTextSet.load(VOICE_TEXTS_DIR).locales == ("en-US", "kk-KZ", "ru-RU")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_voice_texts_load_without_problems(path: Path) -> None:
    texts, problems = parse_voice_texts(path.read_text(encoding="utf-8"), str(path))
    assert problems == []
    assert texts is not None and texts.locale == path.stem
    assert texts.consent_version == f"{path.stem}/consent-v1"
    for key in KEYS:
        speech = getattr(texts, key)
        assert speech.parts and all(part.text for part in speech.parts), key


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_voice_texts_match_the_published_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_published_voice_texts_schema_is_up_to_date() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == render_schema(), (
        "gateway/flows/voice_texts.schema.json is stale; regenerate it with: .venv/bin/python -c "
        "\"from gateway.flows.voice_texts import render_schema; print(render_schema(), end='')\" "
        "> gateway/flows/voice_texts.schema.json"
    )


def test_the_file_model_and_the_compiled_texts_know_the_same_keys() -> None:
    assert list(Texts.model_fields) == list(KEYS)
    assert [f.name for f in fields(VoiceTexts) if f.type == "Speech"] == list(KEYS)


def test_consent_words_are_the_legal_text_word_for_word() -> None:
    texts = VoiceTextSet.load(VOICE_TEXTS_DIR)
    russian = texts.texts_for("ru-RU").consent.fill(channel="WhatsApp", ending="45 67")
    english = texts.texts_for("en-US").consent.fill(channel="WhatsApp", ending="45 67")
    assert russian.words == (
        "Мы отправим SMS со ссылкой на чат в WhatsApp на номер, который заканчивается на 45 67. "
        "По ссылке вы продолжите разговор с оператором в переписке. "
        "Если вы согласны получить это сообщение, нажмите 1. Чтобы остаться на линии, нажмите 2."
    )
    assert english.words == (
        "We will text a link to continue in WhatsApp to the number ending in 45 67. "
        "The link opens a chat with our team. To agree to receive this message, press 1. "
        "To stay on the line, press 2."
    )


def test_a_recorded_locale_says_the_changing_digits_between_its_recordings() -> None:
    kazakh = VoiceTextSet.load(VOICE_TEXTS_DIR).texts_for("kk-KZ")
    sent = kazakh.sent.fill(ending="45 67")
    assert [bool(part.audio) for part in sent.parts] == [True, False, True]
    assert (sent.parts[1].text, sent.parts[1].voice, sent.parts[1].language) == (
        "45 67.",
        "Polly.Tatyana",
        "ru-RU",
    )
    assert "45 67." in sent.words and sent.words.startswith("Хабарламаны")
    for key in KEYS:  # only what changes from call to call is text-to-speech
        assert all(part.audio or "{" in part.text for part in getattr(kazakh, key).parts), key


BROKEN = """\
consent_version: 0
voice: Google.en-US-Standard-C
language: ru-RU
colour: blue
channel_names:
  whatsapp: WhatsApp
  sms: SMS
texts:
  consent:
    - play: ftp://voice.example.com/consent.mp3
      transcript: We will text the number ending in {ending}
    - "{channel}, {ending}, {number}"
  consent_keyed: We will text {channel} to {ending}.
  enter_number: ""
  read_back: "You entered {digits!r}."
  number_invalid:
    play: https://voice.example.com/invalid.mp3
  number_not_mobile:
    text: Not a mobile.
    transcript: Not a mobile.
  no_number:
  declined: All right.
  sending: Sending {{now}}.
  sent: We have sent it.
  still_sending: Still sending.
  failed: Failed.
  refused: Refused.
  own_withheld: Withheld.
  own_not_mobile: Not mobile.
  own_abroad:
    text: Abroad.
    voice: Polly.Joanna
    play: https://voice.example.com/abroad.mp3
  refused_recently: Recently.
  refused_daily_limit: Limit.
  refused_not_mobile: Not mobile.
  refused_opted_out: Opted out.
  refused_bussy: Busy.
"""


def test_a_broken_file_reports_every_problem_with_its_line_and_key() -> None:
    assert _problems(BROKEN) == [
        (1, None, "consent_version: Input should be greater than or equal to 1"),
        (3, None, "language: voice 'Google.en-US-Standard-C' does not speak ru-RU"),
        (4, None, "unknown field 'colour'"),
        (7, None, "channel_names, sms: unknown messenger (expected 'whatsapp', 'telegram' or 'viber')"),
        (
            8,
            "refused_busy",
            "missing: every locale says it (no SMS can be sent right now (paused, limits, chat closed))",
        ),
        (
            10,
            "consent",
            "part 1, play: 'ftp://voice.example.com/consent.mp3' is not an http(s) URL of a recording "
            "(encode spaces as %20)",
        ),
        (
            11,
            "consent",
            "part 1, transcript: a recording says the same words on every call: put the placeholder in a "
            "text part after it, and leave braces out of the transcript",
        ),
        (13, "consent_keyed", "unknown placeholder {ending} (this key uses: {channel})"),
        (14, "enter_number", "text must not be empty"),
        (15, "read_back", "{digits!r} is not a placeholder: write the name alone, like {ending}"),
        (16, "number_invalid", "a recording needs its 'transcript': its exact words, for the ledger"),
        (18, "number_not_mobile", "'transcript' belongs to a recording ('play')"),
        (21, "no_number", "give the words, a part (text: or play:), or a list of parts"),
        (
            23,
            "sending",
            "a brace that is not a placeholder in 'Sending {{now}}.': write {ending}, {channel}...",
        ),
        (
            24,
            "sent",
            "must say {ending} (this key uses: {ending}), in a text part: a recording cannot say it",
        ),
        (30, "own_abroad", "give either 'text' or 'play' (a recording with its 'transcript')"),
        (38, "refused_bussy", "unknown key (did you mean 'refused_busy'?)"),
    ]


def test_a_key_that_is_fixed_shows_the_problems_it_hid() -> None:
    fixed = BROKEN.replace("ftp://", "https://").replace("ending in {ending}", "ending in")
    problems = _problems(fixed)
    assert (9, "consent", "unknown placeholder {number} (this key uses: {channel}, {ending})") in problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(None, None, "the file is empty")]),
        ("consent_version: [1\n", [(2, None, "YAML syntax: expected ',' or ']', but got '<stream end>'")]),
        ("- consent\n", [(1, None, "voice texts must be a mapping (consent_version, texts...)")]),
        ("consent_version: 1\n", [(1, None, "'texts' is required")]),
    ],
    ids=["empty", "yaml", "list", "no-texts"],
)
def test_a_file_that_is_not_voice_texts_says_why(
    text: str, expected: list[tuple[int | None, str | None, str]]
) -> None:
    assert _problems(text) == expected


def test_every_missing_key_is_named_at_the_texts_line() -> None:
    document = yaml.safe_load(ENGLISH)
    del document["texts"]["sent"], document["texts"]["declined"]
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    texts_line = text.splitlines().index("texts:") + 1

    assert _problems(text) == [
        (
            texts_line,
            "declined",
            "missing: every locale says it (the caller did not agree; they keep their place)",
        ),
        (
            texts_line,
            "sent",
            "missing: every locale says it (the SMS has left: said before the caller leaves the queue)",
        ),
    ]


@pytest.mark.parametrize(
    "name", ["voice_texts/english.yaml", "voice_texts/en_US.yaml", "voice_texts/en-US.yml"]
)
def test_a_file_is_named_after_its_locale(name: str) -> None:
    assert _problems(ENGLISH, name) == [(None, None, "name the file after its locale, like ru-RU.yaml")]


def test_adding_a_locale_is_adding_a_file(tmp_path: Path) -> None:
    for path in SHIPPED:
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(VOICE_TEXTS_DIR / "en-US.yaml", tmp_path / "en-GB.yaml")

    texts = VoiceTextSet.load(tmp_path)

    assert texts.locales == ("en-GB", "en-US", "kk-KZ", "ru-RU")
    british = texts.texts_for("en-GB")
    assert british.locale == "en-GB" and british.consent_version == "en-GB/consent-v1"
    assert british.sent == texts.texts_for("en-US").sent


def test_a_flow_finds_its_locale_then_its_language_then_english() -> None:
    texts = VoiceTextSet.load(VOICE_TEXTS_DIR)
    assert texts.texts_for("kk-KZ").locale == "kk-KZ"
    assert texts.texts_for("ru-KZ").locale == "ru-RU"
    assert texts.texts_for("ru").locale == "ru-RU"
    assert texts.texts_for("en").locale == "en-US"
    assert texts.texts_for("de-DE").locale == "en-US"
    assert texts.covers("ru-KZ") and not texts.covers("de-DE")


def test_texts_kept_elsewhere_load_like_the_files() -> None:
    files = voice_text_files(VOICE_TEXTS_DIR)
    relative = {f"voice_texts/{Path(name).name}": text for name, text in files.items()}

    kept = VoiceTextSet.from_texts(relative)

    assert list(kept) == list(VoiceTextSet.load(VOICE_TEXTS_DIR))


def test_every_file_of_a_set_is_checked_and_a_locale_is_defined_once() -> None:
    files = {
        "a/en-US.yaml": ENGLISH,
        "b/en-US.yaml": ENGLISH,
        "voice_texts/fr-FR.yaml": ENGLISH.replace("consent_version: 1", "consent_version: x"),
    }
    found, problems = check_voice_texts(files)
    assert found is None
    assert [(p.file, p.message) for p in problems] == [
        ("b/en-US.yaml", "en-US is also defined by a/en-US.yaml"),
        (
            "voice_texts/fr-FR.yaml",
            "consent_version: Input should be a valid integer, unable to parse string as an integer",
        ),
    ]
    with pytest.raises(VoiceTextError) as raised:
        VoiceTextSet.from_texts(files)
    assert raised.value.problems == problems
    assert str(raised.value).startswith("b/en-US.yaml: en-US is also defined by a/en-US.yaml")


def test_a_set_needs_at_least_one_locale(tmp_path: Path) -> None:
    with pytest.raises(VoiceTextError) as raised:
        VoiceTextSet.load(tmp_path)
    assert raised.value.problems == [
        Problem("voice texts", None, None, "no voice text files (<locale>.yaml) found")
    ]
    with pytest.raises(VoiceTextError, match="no such directory"):
        VoiceTextSet.load(tmp_path / "missing")


def test_a_text_said_in_the_flows_voice_is_one_part() -> None:
    speech = Speech.of("Hello {ending}").fill(ending="45 67")
    assert speech.words == "Hello 45 67"
    assert speech.parts[0].voice is None and speech.parts[0].audio is None

"""A new locale is data: a bank in Kazakhstan adds a Kazakh line (its flow, its SMS texts and the
hand-over dialogue's voice texts, recorded) as files, checks them, imports them, and a caller hears it,
with no code changed and no restart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.clock import ManualClock
from tests.support.calls import Call

ROOT = Path(__file__).resolve().parents[2]
KAZAKH = Path(__file__).resolve().parent / "kazakh"
RECORDINGS = "https://voice.example.com/kk-KZ/"
NEW = {("voice", "kk-KZ"), ("sms", "kk-KZ"), ("flow", "kz-support")}


def deflect(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def running(make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A gateway that has only ever had English and Russian voice texts."""
    voice = tmp_path / "running" / "voice_texts"
    voice.mkdir(parents=True)
    for locale in ("en-US", "ru-RU"):
        shutil.copy(ROOT / "voice_texts" / f"{locale}.yaml", voice)
    monkeypatch.setenv("DEFLECT_VOICE_TEXTS_DIR", str(voice))
    return make_app(DEFLECT_VOICE_TEXTS_DIR=str(voice))


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """The team's files: what is shipped, plus the Kazakh line's flow and SMS texts."""
    root = tmp_path / "repository"
    for directory in ("ivr_flows", "sms_templates", "voice_texts"):
        shutil.copytree(ROOT / directory, root / directory)
    shutil.copytree(KAZAKH, root, dirs_exist_ok=True)
    return root


def test_a_kazakh_line_is_added_as_files_checked_imported_and_heard(
    running: Any, cli_env: None, repository: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = running.extensions["deflect"].content.store
    assert not NEW & set(store.live_pointers())

    checked = deflect("content", "import", "--from", str(repository), "--check", "--json")

    assert checked.exit_code == 0, checked.output
    would = {(o["kind"], o["key"]): o["message"] for o in json.loads(checked.stdout)}
    assert {item for item, message in would.items() if message == "would be version 1"} == NEW
    assert all(message.startswith("unchanged") for item, message in would.items() if item not in NEW)
    assert not NEW & set(store.live_pointers())  # a check changes nothing

    imported = deflect("content", "import", "--from", str(repository), "--by", "aigerim", "--json")

    assert imported.exit_code == 0, imported.output
    assert {(o["kind"], o["key"]) for o in json.loads(imported.stdout) if o["created"]} == NEW
    monkeypatch.setenv("DEFLECT_TEMPLATES_DIR", str(repository / "sms_templates"))
    monkeypatch.setenv("DEFLECT_VOICE_TEXTS_DIR", str(repository / "voice_texts"))
    validated = deflect("flows", "validate", str(repository / "ivr_flows" / "kz_support.yaml"))
    assert validated.exit_code == 0, validated.output

    running.extensions["deflect"].registry.refresh()  # what every process does within seconds
    call = Call(running.test_client(), caller="+77011234567", called="+77172555000")
    greeting = call.incoming()
    assert "Сіз банктің қолдау қызметіне қоңырау шалдыңыз" in greeting.said()
    clock.advance(30)
    offer = call.wait()
    consent = call.press(offer, "1")
    played = [verb.text for verb in consent.all("Play")]
    assert played == [RECORDINGS + f"consent-{n}.mp3" for n in (1, 2, 3)]

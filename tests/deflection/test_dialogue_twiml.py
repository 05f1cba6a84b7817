"""The deflection dialogue is answered inside the wait loop: only waitUrl verbs, only Say and Play inside
Gather."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from twilio.twiml.voice_response import VoiceResponse

from gateway.deflection import twiml
from gateway.flows.loader import load_flow
from gateway.flows.voice_texts import Part, Speech

FLOW = load_flow(Path(__file__).resolve().parents[2] / "ivr_flows" / "ru_bank_support.yaml")
WAIT_VERBS = {"Play", "Say", "Pause", "Gather", "Redirect", "Leave", "Hangup"}
URL = "https://voice.example.test/twilio/voice/consent"
RECORDED = Speech(
    (Part("Сіз мына нөмірді тердіңіз:", audio="https://voice.example.com/kk-KZ/read-back-1.mp3"),)
)


@pytest.mark.parametrize(
    "response",
    [
        twiml.ask_key(FLOW, Speech.of("Нажмите 1"), URL),
        twiml.ask_key(FLOW, RECORDED, URL),
        twiml.ask_number(FLOW, Speech.of("Введите номер"), URL, before=Speech.of("Номер не распознан.")),
        twiml.say_and_go(FLOW, Speech.of("Отправляем"), URL, pause=1),
        twiml.say_and_go(None, None, URL),
        twiml.say_and_leave(FLOW, Speech.of("До свидания")),
        twiml.hold(FLOW, "http://x.test/m.mp3", Speech.of("Ещё отправляется")),
    ],
    ids=["ask_key", "ask_key_recorded", "ask_number", "say_and_go", "go", "leave", "hold"],
)
def test_only_wait_loop_verbs(response: VoiceResponse) -> None:
    root = ET.fromstring(str(response))
    assert {child.tag for child in root} <= WAIT_VERBS
    for gather in root.iter("Gather"):
        assert {child.tag for child in gather} <= {"Say", "Play", "Pause"}
    for said in root.iter("Say"):
        assert (said.attrib["voice"], said.attrib["language"]) == ("Polly.Tatyana", "ru-RU")


def test_a_question_without_a_key_comes_back_to_the_same_url() -> None:
    root = ET.fromstring(str(twiml.ask_key(FLOW, Speech.of("Нажмите 1"), URL)))
    assert [child.tag for child in root] == ["Gather", "Redirect"]
    assert root.find("Gather").attrib == {
        "action": URL,
        "input": "dtmf",
        "method": "POST",
        "numDigits": "1",
        "timeout": "8",
    }
    assert root.find("Redirect").text == URL

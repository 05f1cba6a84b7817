"""The wait loop: only waitUrl verbs, announcements when due, and the offer exactly when due."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from gateway.flows import CallState, handle_offer_input, load_flow, offer_due, wait_loop
from gateway.flows.twiml import GATHER_VERBS, WAIT_VERBS
from tests.flows.helpers import FLOWS_DIR, NOW, URLS, ctx, flow_from, kinds, state_for, verbs, xml

FLOW = flow_from("""
id: wait
locale: en-US
voice: Polly.Joanna
entry: queue
steps:
  queue:
    kind: enqueue
    queue: support
    wait:
      announce_every: 60
      announce_position: true
      announce_ewt: true
      position_text: "You are number {position} in line."
      ewt_text: "Your wait is about {minutes} minutes."
      hold_music: https://cdn.example/hold.mp3
      offer:
        after_seconds: 45
        min_position: 5
        max_offers: 2
        repeat_every: 120
        prompt: Press 1 to continue on WhatsApp.
        accept_digit: "1"
        sms_template: chat_link
""")


def queued(seconds_ago: float, **changes: Any) -> CallState:
    changes = {"queue": "support", "enqueued_at": NOW - seconds_ago, **changes}
    return state_for(FLOW, "queue", **changes)


def assert_wait_verbs_only(root: ET.Element) -> None:
    assert set(verbs(root)) <= WAIT_VERBS
    for gather in root.iter("Gather"):
        assert set(verbs(gather)) <= GATHER_VERBS


def test_first_pass_announces_position_and_wait_then_plays_hold_music() -> None:
    outcome = wait_loop(
        FLOW, queued(0), ctx(queue_position=2, avg_wait_seconds=130, offer_allowed=True), URLS
    )
    root = xml(outcome)
    assert_wait_verbs_only(root)
    assert verbs(root) == ["Say", "Say", "Play"]
    assert [root[0].text, root[1].text] == ["You are number 2 in line.", "Your wait is about 3 minutes."]
    assert root[2].text == "https://cdn.example/hold.mp3" and root[2].get("loop") == "1"
    assert outcome.state.last_announce_at == NOW
    assert kinds(outcome) == ["wait.announce"]


def test_announcement_waits_for_announce_every() -> None:
    state = queued(30, last_announce_at=NOW - 59)
    assert verbs(xml(wait_loop(FLOW, state, ctx(queue_position=2), URLS))) == ["Play"]
    state = queued(30, last_announce_at=NOW - 60)
    assert verbs(xml(wait_loop(FLOW, state, ctx(queue_position=2), URLS))) == ["Say", "Play"]


def test_nothing_is_announced_when_twilio_gave_no_figures() -> None:
    outcome = wait_loop(FLOW, queued(0), ctx(), URLS)
    assert verbs(xml(outcome)) == ["Play"] and outcome.state.last_announce_at is None


def test_offer_plays_once_the_caller_has_waited_long_enough() -> None:
    state = queued(45, last_announce_at=NOW)
    outcome = wait_loop(FLOW, state, ctx(queue_position=2, offer_allowed=True), URLS)
    root = xml(outcome)
    assert_wait_verbs_only(root)
    assert verbs(root) == ["Gather", "Play"]
    assert root[0].attrib == {
        "input": "dtmf",
        "numDigits": "1",
        "action": "https://gw.test/offer",
        "method": "POST",
        "timeout": "5",
    }
    assert verbs(root[0]) == ["Say"] and root[0][0].text == "Press 1 to continue on WhatsApp."
    assert root[0][0].attrib == {"voice": "Polly.Joanna", "language": "en-US"}
    assert (outcome.state.offers_made, outcome.state.last_offer_at) == (1, NOW)
    assert outcome.events[-1].kind == "offer.played"
    assert outcome.events[-1].data["waited_seconds"] == 45


def test_offer_plays_early_when_far_back_in_the_queue() -> None:
    state = queued(5, last_announce_at=NOW)
    assert offer_due(
        FLOW.steps["queue"].wait.offer,
        state,  # type: ignore[union-attr,arg-type]
        ctx(queue_position=5, offer_allowed=True),
    )
    assert verbs(xml(wait_loop(FLOW, state, ctx(queue_position=5, offer_allowed=True), URLS))) == [
        "Gather",
        "Play",
    ]


@pytest.mark.parametrize(
    ("changes", "context"),
    [
        ({}, {"offer_allowed": False}),  # not eligible
        ({"enqueued_at": NOW - 44}, {}),  # not waited long enough
        ({"offer_declined": True}, {}),  # said no
        ({"offers_made": 2, "last_offer_at": NOW - 999}, {}),  # max_offers reached
        ({"offers_made": 1, "last_offer_at": NOW - 119}, {}),  # too soon after the last
        ({"enqueued_at": NOW - 10}, {"queue_position": 4}),  # not far enough back
    ],
)
def test_offer_is_not_played_when_not_due(changes: dict[str, Any], context: dict[str, Any]) -> None:
    state = queued(300, last_announce_at=NOW, **changes)
    context = {"offer_allowed": True, "queue_position": 1, **context}
    outcome = wait_loop(FLOW, state, ctx(**context), URLS)
    assert "Gather" not in verbs(xml(outcome))
    assert outcome.state.offers_made == state.offers_made
    assert "offer.played" not in kinds(outcome)


def test_offer_repeats_after_repeat_every() -> None:
    state = queued(300, last_announce_at=NOW, offers_made=1, last_offer_at=NOW - 120)
    outcome = wait_loop(FLOW, state, ctx(offer_allowed=True), URLS)
    assert verbs(xml(outcome)) == ["Gather", "Play"] and outcome.state.offers_made == 2


def test_first_wait_pass_starts_the_queue_clock_when_the_state_lost_it() -> None:
    outcome = wait_loop(FLOW, state_for(FLOW, "queue"), ctx(offer_allowed=True), URLS)
    assert outcome.state.enqueued_at == NOW and verbs(xml(outcome)) == ["Play"]


def test_accepting_the_offer_hands_the_call_over() -> None:
    state = queued(60, offers_made=1, last_offer_at=NOW)
    outcome = handle_offer_input(FLOW, state, ctx(queue_position=3), URLS, "1")
    assert outcome.offer_accepted is True
    assert verbs(xml(outcome)) == []
    assert kinds(outcome) == ["offer.accepted"]
    assert outcome.events[0].data == {
        "queue": "support",
        "digit": "1",
        "number": 1,
        "waited_seconds": 60,
        "position": 3,
        "variant": None,
        "channels": ["whatsapp"],
        "sms_template": "chat_link",
    }


def test_another_key_declines_for_good_and_keeps_the_place() -> None:
    outcome = handle_offer_input(FLOW, queued(60, offers_made=1), ctx(), URLS, "2")
    root = xml(outcome)
    assert_wait_verbs_only(root)
    assert verbs(root) == ["Redirect"] and root[0].text == "https://gw.test/wait"
    assert outcome.offer_accepted is False and outcome.state.offer_declined is True
    assert outcome.events[0].kind == "offer.declined"
    assert outcome.events[0].data["reason"] == "other_digit"
    later = wait_loop(FLOW, outcome.state, ctx(now=NOW + 600, offer_allowed=True), URLS)
    assert "Gather" not in verbs(xml(later))


def test_no_key_is_not_a_refusal() -> None:
    outcome = handle_offer_input(FLOW, queued(60, offers_made=1), ctx(), URLS, None)
    assert outcome.state.offer_declined is False
    assert outcome.events[0].data["reason"] == "no_input"
    assert verbs(xml(outcome)) == ["Redirect"]


@pytest.mark.parametrize("seconds", [0, 30, 45, 60, 120, 200, 400])
@pytest.mark.parametrize("position", [None, 1, 3, 8])
def test_shipped_russian_wait_loop_uses_only_wait_verbs(seconds: int, position: int | None) -> None:
    flow = load_flow(FLOWS_DIR / "ru_bank_support.yaml")
    state = state_for(flow, "cards_queue", queue="bank-cards", enqueued_at=NOW - seconds)
    outcome = wait_loop(
        flow, state, ctx(queue_position=position, avg_wait_seconds=240, offer_allowed=True), URLS
    )
    root = xml(outcome)
    assert_wait_verbs_only(root)
    assert verbs(root)[-1] == "Play"
    offered = seconds >= 45 or (position or 0) >= 3
    assert ("Gather" in verbs(root)) is offered
    assert all(say.get("language") == "ru-RU" for say in root.iter("Say"))

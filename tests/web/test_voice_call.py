"""Whole calls through the voice webhooks, signed as Twilio signs them: menu -> queue -> wait loop ->
offer -> deflection dialogue, and the ways a call can go elsewhere."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.clock import ManualClock
from gateway.store.models import Call as CallRow
from gateway.store.models import CallEvent
from tests.support.calls import Call, TwiML

WAIT_VERBS = {"Play", "Say", "Pause", "Gather", "Redirect", "Leave", "Hangup"}


def _enqueued(call: Call) -> TwiML:
    greeting = call.incoming()
    assert greeting.status == 200
    assert greeting.verbs()[0] == "Say"
    menu = greeting.find("Gather")
    assert menu.attrib["action"] == "https://voice.example.test/twilio/voice/menu/main_menu"
    cards = call.press(greeting, "1")
    queued = call.press(cards, "2")
    enqueue = queued.find("Enqueue")
    assert enqueue.text == "bank-cards"
    assert enqueue.attrib["waitUrl"] == "https://voice.example.test/twilio/voice/wait"
    assert enqueue.attrib["action"] == "https://voice.example.test/twilio/voice/queue-result"
    return queued


def _events(app: Any, call_sid: str) -> list[str]:
    with app.extensions["deflect"].database.session() as session:
        return list(
            session.scalars(
                select(CallEvent.kind).where(CallEvent.call_sid == call_sid).order_by(CallEvent.id)
            )
        )


def test_caller_goes_from_menu_to_queue_and_hears_the_offer_on_time(
    app: Any, call: Call, clock: ManualClock
) -> None:
    _enqueued(call)
    clock.advance(10)
    early = call.wait()
    assert set(early.verbs()) <= WAIT_VERBS
    assert early.all("Gather") == []  # 10 s in queue, position 1: too early for the offer
    assert early.verbs()[-1] == "Play"

    clock.advance(40)
    due = call.wait()
    assert set(due.verbs()) <= WAIT_VERBS
    offer = due.find("Gather")
    assert offer.attrib["action"] == "https://voice.example.test/twilio/voice/offer"
    assert {child.tag for child in offer} <= {"Say", "Play", "Pause"}
    assert "WhatsApp" in due.said()

    handed_over = call.press(due, "1")
    assert set(handed_over.verbs()) <= WAIT_VERBS
    consent = handed_over.find("Gather")
    assert consent.attrib["action"] == "https://voice.example.test/twilio/voice/consent"
    assert "45 67" in handed_over.said()  # the number the SMS would go to, read back
    kinds = _events(app, call.call_sid)
    assert kinds[:2] == ["call.started", "call.step"]
    assert {"menu.choice", "queue.enqueued", "offer.played", "offer.accepted", "consent.asked"} <= set(kinds)


def test_offer_comes_early_when_the_caller_is_far_back(call: Call) -> None:
    _enqueued(call)
    call.queue_position = 3
    assert call.wait().all("Gather")  # position 3 reaches min_position before 45 s


def test_declined_offer_keeps_the_caller_in_queue_without_asking_again(
    call: Call, clock: ManualClock
) -> None:
    _enqueued(call)
    clock.advance(50)
    declined = call.press(call.wait(), "2")
    assert declined.verbs() == ["Redirect"]
    assert declined.find("Redirect").text == "https://voice.example.test/twilio/voice/wait"
    clock.advance(300)
    later = call.wait()
    assert later.all("Gather") == []
    assert later.verbs()[-1] == "Play"


def test_no_answer_to_the_offer_keeps_the_place_and_offers_once_more_later(
    call: Call, clock: ManualClock
) -> None:
    _enqueued(call)
    clock.advance(50)
    offered = call.wait()
    silence = call.post(offered.find("Gather").attrib["action"])  # Gather timed out: no Digits
    assert silence.verbs() == ["Redirect"]
    clock.advance(30)
    assert call.wait().all("Gather") == []  # repeat_every (120 s) has not passed
    clock.advance(100)
    assert call.wait().all("Gather")  # second and last offer (max_offers: 2)
    clock.advance(200)
    assert call.wait().all("Gather") == []


def test_menu_without_input_retries_then_takes_the_no_input_path(call: Call) -> None:
    greeting = call.incoming()
    again = call.say_nothing(greeting)
    assert "не поняла" in again.said()
    again = call.say_nothing(again)
    last = call.say_nothing(again)  # retries used up: straight to "other questions"
    assert last.find("Enqueue").text == "bank-other"


def test_out_of_hours_callers_get_the_closed_menu(call: Call, clock: ManualClock) -> None:
    clock.advance(5 * 86400)  # Sunday
    closed = call.incoming()
    assert "операторы не работают" in closed.said()
    goodbye = call.say_nothing(closed)
    assert goodbye.verbs()[-1] == "Hangup"


def test_the_english_line_is_the_default_flow(client: Any, clock: ManualClock) -> None:
    call = Call(client, caller="+14155550199", called="+15550000000")
    greeting = call.incoming()
    assert greeting.find("Say").attrib["language"] == "en-US"


def test_call_row_and_status_are_recorded(app: Any, call: Call) -> None:
    _enqueued(call)
    assert call.status("completed").status == 200
    with app.extensions["deflect"].database.session() as session:
        row = session.get(CallRow, call.call_sid)
        assert row is not None
        assert (row.caller, row.called, row.flow_id, row.queue, row.status) == (
            "+79161234567",
            "+74952223344",
            "ru-bank-support",
            "bank-cards",
            "completed",
        )
        assert row.ended_at is not None

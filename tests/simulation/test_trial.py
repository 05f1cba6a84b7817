"""A console test call replayed whole on every press: the panel's inputs, the moment of the call, and
what a play reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from gateway.simulation.player import Prompt
from gateway.simulation.trial import Inputs, Trial, TrialError, answer, call_moment, play
from tests.support.calls import ACCOUNT_SID

MENU = Prompt("keys", "menu", speech=True, num_digits=1, finish_on_key="#")
NUMBER = Prompt("keys", "number-entry", num_digits=16, finish_on_key="#", queued=True)
QUEUE = Prompt("queue", "wait", queued=True, waited=30)


def test_a_key_at_a_one_key_prompt_is_the_whole_answer() -> None:
    assert answer(Inputs(("1",)), MENU, "key", "2") == Inputs(("1", "2"))


def test_keys_for_a_number_are_collected_until_the_finishing_key() -> None:
    typed = Inputs(("1",))
    for key in "8916":
        typed = answer(typed, NUMBER, "key", key)
    assert typed == Inputs(("1",), "8916")
    assert answer(typed, NUMBER, "key", "#") == Inputs(("1", "8916"))
    assert answer(typed, NUMBER, "timeout") == Inputs(("1", "8916"))  # a timeout sends what was typed
    assert answer(Inputs(), NUMBER, "key", "#") == Inputs(("",))  # nothing typed: no input


def test_the_queue_takes_waits_and_agents_and_prompts_take_keys_and_words() -> None:
    assert answer(Inputs(), QUEUE, "wait", "120") == Inputs(("w120",))
    assert answer(Inputs(), QUEUE, "agent") == Inputs(("a",))
    assert answer(Inputs(), QUEUE, "key", "1") == Inputs()
    assert answer(Inputs(), QUEUE, "say", "да") == Inputs()
    assert answer(Inputs(), MENU, "wait", "120") == Inputs()
    assert answer(Inputs(), MENU, "say", "  мне   по кредиту ") == Inputs(("s:мне по кредиту",))
    assert answer(Inputs(), QUEUE, "wait", "99999") == Inputs()
    assert answer(Inputs(), MENU, "hangup") == Inputs(("q",))


def test_after_the_call_only_a_new_call_or_taking_back_an_input_does_anything() -> None:
    ended = Inputs(("1", "2"))
    assert answer(ended, None, "key", "1") == ended
    assert answer(ended, None, "hangup") == ended
    assert answer(ended, None, "undo") == Inputs(("1",))
    assert answer(ended, None, "call") == Inputs()
    assert answer(Inputs(("1",), "89"), NUMBER, "undo") == Inputs(("1",))  # the typed keys go first


def test_what_the_form_carried_is_read_back_and_nonsense_starts_afresh() -> None:
    carried = Inputs(("1", "", "s:да", "w60"), "12")
    assert Inputs.decode(carried.encoded(), carried.typed) == carried
    assert Inputs.decode("not json", "1x#") == Inputs((), "1#")
    assert Inputs.decode('{"a": 1}', "") == Inputs()
    assert Inputs.decode('["line\\nbreak"]', "") == Inputs(("line break",))


def test_the_call_is_made_in_the_flows_time_zone(app: Any) -> None:
    flow = app.extensions["deflect"].registry.flows().get("ru-bank-support")
    now = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)  # 23:30 in Moscow
    at = call_moment(flow, date(2026, 11, 25), time(9, 15), now)
    assert (at.isoformat(), str(at.tzinfo)) == ("2026-11-25T09:15:00+03:00", "Europe/Moscow")
    assert call_moment(flow, None, time(12, 0), now).date() == date(2026, 11, 24)
    assert call_moment(flow, None, None, now).hour == 23


def test_a_flow_chosen_by_id_answers_whatever_number_it_is_called_on(app: Any) -> None:
    result = play(app.extensions["deflect.sandboxes"], Trial("+79161234567", "flow:en-support"))
    assert result.played.flow_id == "en-support" and result.played.locale == "en-US"
    assert result.heard[0].language == "en-US"


def test_an_unknown_flow_is_refused(app: Any) -> None:
    with pytest.raises(TrialError) as refused:
        play(app.extensions["deflect.sandboxes"], Trial("+79161234567", "flow:nowhere"))
    assert refused.value.field == "called"


def test_a_gateway_with_a_twilio_account_still_texts_only_the_sandboxes_inbox(make_app: Any) -> None:
    app = make_app(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_API_BASE_URL="http://127.0.0.1:9",
        TWILIO_SMS_FROM="+77012345678",
    )
    trial = Trial("+79161234567", "+74952223344", time_of_day=time(12, 0), script=("1", "2", "1", "1"))
    result = play(app.extensions["deflect.sandboxes"], trial)
    assert result.prompt is None
    assert [sms.to for sms in result.messages] == ["+79161234567"]
    assert result.messages[0].info.encoding == "UCS-2"
    assert [c.key_pressed for c in result.consents] == ["1"]
    assert not any(item.kind == "job_failed" for item in result.heard)

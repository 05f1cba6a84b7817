"""No SMS without a textable number: opted-out, landline, foreign, over-limit and withheld callers get
none to their own number; those who may key in a mobile number get it there instead."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.clock import ManualClock
from tests.deflection.conftest import events_of, offer_heard, reach_consent, reach_offer, run_jobs
from tests.support.calls import Call
from tests.support.messages import post_inbound
from tests.support.twilio_proxy import TwilioProxy

pytestmark = pytest.mark.contract


def _key_in_number(call: Call, prompt: Any, digits: str) -> Any:
    assert prompt.find("Gather").attrib["finishOnKey"] == "#"
    read_back = call.press(prompt, digits)
    return read_back


def test_caller_who_said_stop_is_not_offered(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    stop = post_inbound(twilio_app.test_client(), "СТОП", sid="SM" + "1" * 32, channel="sms")
    assert "отписались" in stop.get_data(as_text=True)
    assert not offer_heard(caller, clock)
    assert events_of(twilio_app, caller, "offer.refused") == [{"reason": "opted_out", "queue": "bank-cards"}]
    assert proxy.created_messages() == []


@pytest.mark.parametrize(
    ("own_number", "why", "said_first"),
    [
        ("+74951234567", "landline", "Номер, с которого вы звоните, не принимает SMS."),
        ("+447911123456", "foreign mobile", "На номер, с которого вы звоните, мы не отправляем SMS."),
        ("anonymous", "withheld", "Ваш номер скрыт"),
    ],
    ids=["landline", "foreign mobile", "withheld"],
)
def test_caller_without_a_textable_number_can_key_in_a_mobile_one(
    twilio_app: Any, clock: ManualClock, proxy: TwilioProxy, own_number: str, why: str, said_first: str
) -> None:
    call = Call(twilio_app.test_client(), caller=own_number)
    number_prompt = reach_consent(call, clock)
    assert "Введите" in number_prompt.said(), why
    assert said_first in number_prompt.said(), why  # why their own number will not do
    bad = call.press(number_prompt, "12#")
    assert "не удалось распознать" in bad.said()
    read_back = call.press(bad, "79031234567#")
    assert "7, 9, 0, 3, 1, 2, 3, 4, 5, 6, 7" in read_back.said()
    consent = call.press(read_back, "1")
    assert "на этот номер" in consent.said()
    sending = call.press(consent, "1")
    run_jobs(twilio_app)
    sent = call.post(sending.find("Redirect").text or "")
    assert sent.verbs() == ["Say", "Leave"]
    assert [m["to"] for m in proxy.created_messages()] == ["+79031234567"]


def test_keyed_landline_is_refused_twice_then_the_caller_keeps_waiting(
    twilio_app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    call = Call(twilio_app.test_client(), caller="+74951234567")
    prompt = reach_consent(call, clock)
    again = call.press(prompt, "74957654321#")
    assert "мобильного" in again.said()
    gave_up = call.press(again, "74957654321#")
    assert "только на мобильные номера" in gave_up.said()
    assert gave_up.find("Redirect").text == "https://voice.example.test/twilio/voice/wait"
    assert proxy.created_messages() == []


def test_daily_budget_stops_offers_once_spent(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_SMS_DAILY_BUDGET="1")
    first = Call(app.test_client())
    first.press(reach_consent(first, clock), "1")
    second = Call(app.test_client(), caller="+79169876543")
    assert not offer_heard(second, clock)
    assert events_of(app, second, "offer.refused")[0]["reason"] == "daily_budget_spent"
    run_jobs(app)
    assert len(proxy.created_messages()) == 1


def test_prefix_rate_limit_refuses_at_consent(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_SMS_PER_PREFIX_HOUR="1")
    first, second = Call(app.test_client()), Call(app.test_client(), caller="+79161239999")
    first_consent, second_consent = reach_consent(first, clock), reach_consent(second, clock)
    first.press(first_consent, "1")
    refused = second.press(second_consent, "1")  # same +7916123 prefix within the hour
    assert "сейчас мы не можем отправлять SMS" in refused.said()  # not "this number": try another day
    assert events_of(app, second, "deflection.refused") == [{"reason": "prefix_rate_limit"}]
    run_jobs(app)
    assert [m["to"] for m in proxy.created_messages()] == ["+79161234567"]


def test_caller_texted_recently_is_not_offered_again(
    twilio_app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    first = Call(twilio_app.test_client())
    first.press(reach_consent(first, clock), "1")
    run_jobs(twilio_app)
    again = Call(twilio_app.test_client())  # the same caller rings back an hour later
    clock.advance(3600)
    assert not offer_heard(again, clock)
    assert events_of(twilio_app, again, "offer.refused")[0]["reason"] == "texted_recently"
    assert len(proxy.created_messages()) == 1


def test_declining_consent_sends_nothing(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    declined = caller.press(reach_consent(caller, clock), "2")
    assert "остаётесь на линии" in declined.said()
    assert declined.find("Redirect").text == "https://voice.example.test/twilio/voice/wait"
    run_jobs(twilio_app)
    assert proxy.created_messages() == []


def test_paused_messaging_stops_offers(twilio_app: Any, caller: Call, clock: ManualClock) -> None:
    twilio_app.extensions["deflect"].guards.switch.set(True, actor="test", reason="chat team overloaded")
    assert not offer_heard(caller, clock)
    twilio_app.extensions["deflect"].guards.switch.set(False, actor="test", reason="back")
    clock.advance(61)  # a messaging refusal is looked at again a minute later
    assert caller.wait().all("Gather")


def test_a_pause_set_while_the_offer_plays_is_heard_at_the_accepting_key(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    offered = reach_offer(caller, clock)
    twilio_app.extensions["deflect"].guards.switch.set(True, actor="test", reason="chat team overloaded")
    told = caller.press(offered, "1")
    assert told.find("Redirect").text == "https://voice.example.test/twilio/voice/wait"
    assert events_of(twilio_app, caller, "deflection.refused") == [{"reason": "messaging_paused"}]
    assert events_of(twilio_app, caller, "consent.asked") == []


def test_offer_heard_just_before_an_admin_paused_sends_nothing(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    consent = reach_consent(caller, clock)
    twilio_app.extensions["deflect"].guards.switch.set(True, actor="test", reason="chat team overloaded")
    told = caller.press(consent, "1")
    assert told.find("Redirect").text == "https://voice.example.test/twilio/voice/wait"
    assert events_of(twilio_app, caller, "deflection.refused") == [{"reason": "messaging_paused"}]
    assert events_of(twilio_app, caller, "consent.granted") == []
    run_jobs(twilio_app)
    assert proxy.created_messages() == []


def test_caller_is_told_and_kept_in_queue_when_the_offer_cannot_be_recorded(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    consent = reach_consent(caller, clock)
    services = twilio_app.extensions["deflect"]
    working = services.database.engine
    services.database.sessions.configure(bind=_unreachable_engine())
    try:
        told = caller.press(consent, "1")
    finally:
        services.database.sessions.configure(bind=working)
    assert "не получилось" in told.said()
    assert told.find("Redirect").text == "https://voice.example.test/twilio/voice/wait"
    run_jobs(twilio_app)
    assert proxy.created_messages() == []


def _unreachable_engine() -> Any:
    from sqlalchemy import create_engine

    return create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})


def test_no_offer_when_no_messenger_is_configured(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_WHATSAPP_NUMBER="", DEFLECT_TELEGRAM_BOT="")
    call = Call(app.test_client())
    assert not offer_heard(call, clock)
    assert events_of(app, call, "offer.refused")[0]["reason"] == "no_channel_configured"


def test_database_down_when_the_caller_presses_1_is_said_and_the_place_kept(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    offered = reach_offer(caller, clock)
    sessions = twilio_app.extensions["deflect"].database.sessions
    working = sessions.kw["bind"]
    sessions.configure(bind=_unreachable_engine())
    try:
        told = caller.press(offered, "1")
    finally:
        sessions.configure(bind=working)
    assert "не получилось" in told.said()
    assert told.find("Redirect").text == "https://voice.example.test/twilio/voice/wait"
    assert proxy.created_messages() == []


def test_database_down_while_sending_keeps_the_caller_waiting_not_told_it_failed(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    sending = caller.press(reach_consent(caller, clock), "1")
    sessions = twilio_app.extensions["deflect"].database.sessions
    working = sessions.kw["bind"]
    sessions.configure(bind=_unreachable_engine())
    try:
        polled = caller.post(sending.find("Redirect").text or "")
    finally:
        sessions.configure(bind=working)
    assert polled.verbs() == ["Pause", "Redirect"]  # the SMS may be on its way: keep waiting
    run_jobs(twilio_app)
    assert caller.post(polled.find("Redirect").text or "").verbs() == ["Say", "Leave"]
    assert len(proxy.created_messages()) == 1

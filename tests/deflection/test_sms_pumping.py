"""SMS pumping through the calls themselves: a range texted abnormally fast is paused on its own (one
alert, a durable event), and callers keying in numbers are capped per caller and per keyed-in number."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from gateway.clock import ManualClock
from tests.deflection.conftest import events_of, offer_heard, reach_consent, run_jobs
from tests.support.calls import Call
from tests.support.twilio_proxy import TwilioProxy

pytestmark = pytest.mark.contract

WAIT_URL = "https://voice.example.test/twilio/voice/wait"


def test_a_range_texted_abnormally_fast_is_paused_alone_with_one_alert(
    make_app: Any,
    twilio_config: dict[str, str],
    clock: ManualClock,
    proxy: TwilioProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(**twilio_config, DEFLECT_TRIP_PER_PREFIX="2")
    first, second = (
        Call(app.test_client(), caller="+79161230001"),
        Call(app.test_client(), caller="+79161230002"),
    )
    with caplog.at_level(logging.WARNING):
        first.press(reach_consent(first, clock), "1")
        second.press(reach_consent(second, clock), "1")
        third = Call(app.test_client(), caller="+79161230003")
        assert not offer_heard(third, clock)
    alerts = [r.getMessage() for r in caplog.records if "SMS pumping trip" in r.getMessage()]
    assert len(alerts) == 1
    assert "+79161230002" not in alerts[0] and "+7916*****02" in alerts[0]
    assert "deflect messaging resume --range" in alerts[0]
    (paused,) = events_of(app, second, "sms.range_paused")
    assert (paused["kind"], paused["range"], paused["count"]) == ("prefix", "+7916123", 2)
    assert events_of(app, third, "offer.refused")[0]["reason"] == "range_paused"
    neighbour = Call(app.test_client(), caller="+79161240000")
    assert offer_heard(neighbour, clock)  # the next prefix keeps working
    run_jobs(app)
    assert [m["to"] for m in proxy.created_messages()] == ["+79161230001", "+79161230002"]


def test_a_range_paused_after_the_offer_was_heard_gets_no_sms(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_TRIP_PER_PREFIX="2")
    late, first, second = (Call(app.test_client(), caller=f"+7916123000{n}") for n in range(3))
    late_consent = reach_consent(late, clock)  # heard the offer, thinks it over...
    first.press(reach_consent(first, clock), "1")
    second.press(reach_consent(second, clock), "1")  # ...while these two trip the range
    told = late.press(late_consent, "1")
    assert told.find("Redirect").text == WAIT_URL
    assert events_of(app, late, "deflection.refused") == [{"reason": "range_paused"}]
    run_jobs(app)
    assert len(proxy.created_messages()) == 2


def _key_in(call: Call, clock: ManualClock, number: str) -> Any:
    read_back = call.press(reach_consent(call, clock), number + "#")
    return call.press(call.press(read_back, "1"), "1")


def test_one_caller_keying_in_numbers_is_capped_per_day(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_SMS_PER_CALLER_DAY="2")
    landline = "+74951234567"
    for number in ("79031110000", "79262220000"):
        _key_in(Call(app.test_client(), caller=landline), clock, number)
        clock.advance(600)
    again = Call(app.test_client(), caller=landline)
    assert not offer_heard(again, clock)
    assert events_of(app, again, "offer.refused")[0]["reason"] == "caller_daily_limit"
    run_jobs(app)
    assert [m["to"] for m in proxy.created_messages()] == ["+79031110000", "+79262220000"]


def test_a_caller_over_the_daily_cap_at_the_last_moment_is_told_why(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_SMS_PER_CALLER_DAY="1")
    landline = "+74951234567"
    first, second = Call(app.test_client(), caller=landline), Call(app.test_client(), caller=landline)
    first_consent = first.press(first.press(reach_consent(first, clock), "79031110000#"), "1")
    second_consent = second.press(second.press(reach_consent(second, clock), "79262220000#"), "1")
    first.press(first_consent, "1")
    refused = second.press(second_consent, "1")
    assert "Сегодня по звонкам с вашего номера" in refused.said()
    assert refused.find("Redirect").text == WAIT_URL
    assert events_of(app, second, "deflection.refused") == [{"reason": "caller_daily_limit"}]


def test_a_keyed_in_number_is_texted_once_a_day_whoever_keys_it_in(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_RETEXT_HOURS="0")
    _key_in(Call(app.test_client(), caller="+74951234567"), clock, "79031110000")
    refused = _key_in(Call(app.test_client(), caller="+74957654321"), clock, "79031110000")
    assert "уже недавно отправляли SMS на этот номер" in refused.said()
    assert refused.find("Redirect").text == WAIT_URL
    run_jobs(app)
    assert [m["to"] for m in proxy.created_messages()] == ["+79031110000"]


def test_without_a_passing_attestation_a_caller_may_not_key_in_a_number(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_REQUIRE_ATTESTATION="a")
    unattested = Call(app.test_client(), caller="+74951234567")  # a landline, no StirVerstat
    assert not offer_heard(unattested, clock)
    assert events_of(app, unattested, "offer.refused")[0]["reason"] == "keyed_number_not_attested"
    failed = Call(app.test_client(), caller="anonymous", extra={"StirVerstat": "TN-Validation-Failed"})
    assert not offer_heard(failed, clock)
    attested = Call(app.test_client(), caller="+74951234567", extra={"StirVerstat": "TN-Validation-Passed-A"})
    _key_in(attested, clock, "79031110000")
    mobile = Call(app.test_client())  # its own number: an absent StirVerstat still judges nothing
    mobile.press(reach_consent(mobile, clock), "1")
    run_jobs(app)
    assert [m["to"] for m in proxy.created_messages()] == ["+79031110000", "+79161234567"]

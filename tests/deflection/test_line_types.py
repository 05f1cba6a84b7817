"""North American numbers are "fixed line or mobile" to phonenumbers: Twilio Lookup v2 (Prism on Twilio's
Lookups spec, answers shaped by the proxy) says which, before the offer. The wait loop never waits on
it; a landline caller may key in a mobile number instead; a failed lookup means no offer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.clock import ManualClock
from tests.deflection.conftest import events_of, run_jobs
from tests.support.calls import Call, TwiML
from tests.support.prism import PrismServer
from tests.support.twilio_proxy import Fault, TwilioProxy

pytestmark = pytest.mark.contract

EN_LINE = "+14155550123"  # the English flow's number
CALLER = "+12015550123"
MOBILE = "+13105550199"
WAIT_URL = "https://voice.example.test/twilio/voice/wait"


@pytest.fixture
def lookups(twilio_lookups: PrismServer) -> Iterator[TwilioProxy]:
    with TwilioProxy(twilio_lookups.url) as running:
        yield running


@pytest.fixture
def us_app(make_app: Any, twilio_config: dict[str, str], lookups: TwilioProxy, clock: ManualClock) -> Any:
    clock.advance(6 * 3600)  # 10:00 in New York: the English line is open
    return make_app(**twilio_config, TWILIO_API_BASE_URL_OVERRIDES=f"lookups={lookups.url}")


def line_type(kind: str) -> Fault:
    """Twilio's answer for a number of this line type (Line Type Intelligence)."""
    return Fault.answer_with(
        line_type_intelligence={
            "error_code": None,
            "mobile_country_code": "310",
            "mobile_network_code": "456",
            "carrier_name": "Example Carrier",
            "type": kind,
        }
    )


def _queued(call: Call) -> TwiML:
    """Billing queue, first pass of the wait loop."""
    call.press(call.incoming(), "1")
    return call.wait()


def _offered(call: Call, clock: ManualClock) -> TwiML:
    clock.advance(61)
    return call.wait()


def _lookups_of(proxy: TwilioProxy) -> list[str]:
    assert all(r.query == {"Fields": "line_type_intelligence"} and r.status == 200 for r in proxy.requests)
    return [r.path.rsplit("/", 1)[1] for r in proxy.requests]


def test_a_mobile_confirmed_by_lookup_is_offered_without_the_wait_loop_waiting(
    us_app: Any, clock: ManualClock, lookups: TwilioProxy, proxy: TwilioProxy
) -> None:
    lookups.plan("GET", CALLER, line_type("mobile"))
    call = Call(us_app.test_client(), caller=CALLER, called=EN_LINE)
    _queued(call)
    assert lookups.requests == []  # asked for in a job, not while Twilio waits for TwiML
    run_jobs(us_app)
    offered = _offered(call, clock)
    consent = call.press(offered, "1")
    assert "ending in 01 23" in consent.said()
    call.press(consent, "1")
    run_jobs(us_app)
    assert [m["to"] for m in proxy.created_messages()] == [CALLER]
    assert _lookups_of(lookups) == [CALLER]


def test_the_offer_waits_for_a_lookup_still_running(
    us_app: Any, clock: ManualClock, lookups: TwilioProxy
) -> None:
    lookups.plan("GET", CALLER, line_type("mobile"))
    call = Call(us_app.test_client(), caller=CALLER, called=EN_LINE)
    _queued(call)
    assert not _offered(call, clock).all("Gather")
    assert events_of(us_app, call, "offer.refused")[0]["reason"] == "line_type_pending"
    run_jobs(us_app)
    assert _offered(call, clock).all("Gather")  # asked again a minute later, answer cached


def test_a_landline_caller_is_not_texted_and_may_key_in_a_mobile_number(
    us_app: Any, clock: ManualClock, lookups: TwilioProxy, proxy: TwilioProxy
) -> None:
    lookups.plan("GET", CALLER, line_type("landline"))
    lookups.plan("GET", MOBILE, line_type("mobile"))
    call = Call(us_app.test_client(), caller=CALLER, called=EN_LINE)
    _queued(call)
    run_jobs(us_app)
    number_prompt = call.press(_offered(call, clock), "1")
    assert number_prompt.find("Gather").attrib["finishOnKey"] == "#"
    read_back = call.press(number_prompt, "13105550199#")  # looked up at once, while the caller waits
    assert "1, 3, 1, 0, 5, 5, 5, 0, 1, 9, 9" in read_back.said()
    call.press(call.press(read_back, "1"), "1")
    run_jobs(us_app)
    assert [m["to"] for m in proxy.created_messages()] == [MOBILE]
    assert _lookups_of(lookups) == [CALLER, MOBILE]


def test_a_keyed_in_landline_is_refused_like_any_number_that_is_not_a_mobile(
    us_app: Any, clock: ManualClock, lookups: TwilioProxy, proxy: TwilioProxy
) -> None:
    lookups.plan("GET", CALLER, line_type("landline"))
    lookups.plan("GET", "12125550100", line_type("landline"))
    call = Call(us_app.test_client(), caller=CALLER, called=EN_LINE)
    _queued(call)
    run_jobs(us_app)
    again = call.press(call.press(_offered(call, clock), "1"), "12125550100#")
    assert "Please use a mobile number" in again.said()
    assert again.find("Gather").attrib["finishOnKey"] == "#"
    assert proxy.created_messages() == []


def test_a_failed_lookup_means_no_offer_and_the_number_is_not_logged(
    us_app: Any, clock: ManualClock, lookups: TwilioProxy, caplog: pytest.LogCaptureFixture
) -> None:
    lookups.plan("GET", CALLER, Fault.error(503))
    call = Call(us_app.test_client(), caller=CALLER, called=EN_LINE)
    _queued(call)
    with caplog.at_level(logging.INFO):
        run_jobs(us_app)
    offered = _offered(call, clock)
    assert offered.status == 200 and not offered.all("Gather")
    assert events_of(us_app, call, "offer.refused")[0]["reason"] == "line_type_unknown"
    assert any("line type lookup of +1201*****23 failed" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if "2015550123" in r.getMessage()]


def test_a_keyed_in_number_whose_lookup_times_out_ends_the_dialogue_with_the_place_kept(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, lookups: TwilioProxy, proxy: TwilioProxy
) -> None:
    clock.advance(6 * 3600)
    app = make_app(
        **twilio_config, TWILIO_API_BASE_URL_OVERRIDES=f"lookups={lookups.url}", DEFLECT_LINE_TYPE_TIMEOUT="1"
    )
    lookups.plan("GET", CALLER, line_type("landline"))
    lookups.plan("GET", MOBILE, Fault.delay(2))
    call = Call(app.test_client(), caller=CALLER, called=EN_LINE)
    _queued(call)
    run_jobs(app)
    told = call.press(call.press(_offered(call, clock), "1"), "13105550199#")
    assert told.status == 200 and told.find("Redirect").text == WAIT_URL
    assert events_of(app, call, "deflection.no_number") == [{"reason": "line_type_unknown"}]
    assert proxy.created_messages() == []


def test_a_looked_up_line_type_is_kept_for_the_next_call(
    us_app: Any, clock: ManualClock, lookups: TwilioProxy
) -> None:
    lookups.plan("GET", CALLER, line_type("mobile"))
    for _ in range(2):
        call = Call(us_app.test_client(), caller=CALLER, called=EN_LINE)
        _queued(call)
        run_jobs(us_app)
        assert _offered(call, clock).all("Gather")
        call.status("completed")
    assert _lookups_of(lookups) == [CALLER]


def test_numbers_the_plan_knows_are_mobile_are_not_looked_up_unless_always(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, lookups: TwilioProxy
) -> None:
    overrides = f"lookups={lookups.url}"
    ambiguous = make_app(**twilio_config, TWILIO_API_BASE_URL_OVERRIDES=overrides)
    call = Call(ambiguous.test_client())  # a Russian mobile
    call.press(call.press(call.incoming(), "1"), "2")
    call.wait()
    assert ambiguous.extensions["deflect"].queue.count == 0
    always = make_app(
        **twilio_config, TWILIO_API_BASE_URL_OVERRIDES=overrides, DEFLECT_LINE_TYPE_LOOKUP="always"
    )
    call = Call(always.test_client(), caller="+79169990000")
    call.press(call.press(call.incoming(), "1"), "2")
    call.wait()
    assert always.extensions["deflect"].queue.count == 1


def test_with_lookups_off_the_plan_alone_decides(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, lookups: TwilioProxy
) -> None:
    clock.advance(6 * 3600)
    app = make_app(
        **twilio_config,
        TWILIO_API_BASE_URL_OVERRIDES=f"lookups={lookups.url}",
        DEFLECT_LINE_TYPE_LOOKUP="off",
    )
    call = Call(app.test_client(), caller=CALLER, called=EN_LINE)
    _queued(call)
    assert _offered(call, clock).all("Gather")
    assert lookups.requests == [] and app.extensions["deflect"].queue.count == 0

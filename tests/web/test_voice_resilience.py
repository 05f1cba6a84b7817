"""The caller never hears silence: forged requests change nothing, and a stopped Redis or database,
a lost call state or a broken flow still gives valid TwiML that keeps the caller queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.clock import ManualClock
from gateway.jobs import running_with
from gateway.store.models import CallEvent
from tests.support.calls import Call, sign
from tests.support.servers import RedisServer

QUEUE_RESULTS = (
    "bridged",
    "bridging-in-process",
    "error",
    "hangup",
    "leave",
    "redirected",
    "redirected-from-bridged",
    "queue-full",
    "system-error",
)


def _queued(call: Call) -> None:
    greeting = call.incoming()
    call.press(call.press(greeting, "1"), "2")


@pytest.mark.parametrize("result", QUEUE_RESULTS)
def test_every_queue_result_gets_valid_twiml(call: Call, result: str) -> None:
    _queued(call)
    twiml = call.queue_result(result)
    assert twiml.status == 200
    assert twiml.root.tag == "Response"
    expected = {
        "bridged": ["Hangup"],
        "bridging-in-process": [],
        "redirected": [],
        "redirected-from-bridged": [],
        "hangup": [],
        # The caller left without an agent (not through deflection): the flow's `after` step.
        "leave": ["Say", "Hangup"],
        # A queue failure: apology, then back into the queue (retries: 1 by default).
        "error": ["Say", "Enqueue"],
        "system-error": ["Say", "Enqueue"],
        # A full queue stays full: the flow's alternative, not a retry.
        "queue-full": ["Say", "Say", "Hangup"],
    }[result]
    assert twiml.verbs() == expected


def test_unsigned_and_forged_requests_are_refused_and_change_nothing(app: Any, call: Call) -> None:
    assert call.post("/twilio/voice/incoming", signed=False).status == 403
    assert call.post("/twilio/voice/incoming", signature="bm90IGEgc2lnbmF0dXJl").status == 403
    wrong_token = sign("https://voice.example.test/twilio/voice/incoming", call.params(), "f" * 32)
    assert call.post("/twilio/voice/incoming", signature=wrong_token).status == 403
    # Signed for other parameters (a tampered Digits) is forged too.
    good = sign("https://voice.example.test/twilio/voice/incoming", call.params(Digits="1"))
    assert call.post("/twilio/voice/incoming", signature=good, Digits="2").status == 403
    services = app.extensions["deflect"]
    assert services.redis.keys("deflect:call:*") == []
    with services.database.session() as session:
        assert session.scalar(select(func.count(CallEvent.id))) == 0


def test_signature_is_checked_against_the_url_forwarded_by_a_trusted_proxy(make_app: Any) -> None:
    app = make_app(PUBLIC_BASE_URL="", TRUSTED_PROXY_COUNT="1")
    call = Call(app.test_client())
    params = call.params()
    public = "https://voice.bank.test/twilio/voice/incoming"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.bank.test"}
    ok = call.post("/twilio/voice/incoming", signature=sign(public, params), headers=forwarded)
    assert ok.status == 200
    assert ok.find("Gather").attrib["action"].startswith("https://voice.bank.test/twilio/voice/")
    # Signed for the internal http URL the proxy called: not what Twilio signed, refused.
    internal = sign("http://localhost/twilio/voice/incoming", params)
    assert call.post("/twilio/voice/incoming", signature=internal, headers=forwarded).status == 403


@pytest.mark.parametrize(
    "withheld",
    [
        "+266696687",
        "+7378742833",
        "+2562533",
        "+8656696",
        "+86282452253",
        "anonymous",
        "restricted",
        "",
        "+7",
        "not a number",
        "client:bob",
    ],
)
def test_withheld_or_malformed_caller_ids_mean_no_usable_number(
    app: Any, call: Call, clock: ManualClock, withheld: str
) -> None:
    call.caller = withheld
    _queued(call)
    state = app.extensions["deflect"].voice.states.load(call.call_sid)
    assert state.caller is None
    clock.advance(50)
    offered = call.wait()
    handed_over = call.press(offered, "1")
    # No number to text: the caller is asked to key in a mobile number instead.
    assert handed_over.find("Gather").attrib["finishOnKey"] == "#"


def test_stopped_redis_still_answers_valid_twiml_that_queues_the_caller(
    make_app: Any, tmp_path: Path, clock: ManualClock
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    app = make_app(REDIS_URL=server.url)
    call = Call(app.test_client())
    _queued(call)
    server.stop()
    incoming = Call(app.test_client()).incoming()
    assert incoming.status == 200
    assert incoming.find("Enqueue").text == "support"  # DEFLECT_FALLBACK_QUEUE
    waiting = call.wait()
    assert waiting.status == 200
    assert waiting.verbs() == ["Play"]
    for path in (
        "/twilio/voice/offer",
        "/twilio/voice/consent",
        "/twilio/voice/sending",
        "/twilio/voice/menu/main_menu",
    ):
        assert call.post(path, Digits="1").status == 200
    assert call.queue_result("error").find("Enqueue").text == "support"
    assert call.queue_result("bridged").verbs() == []
    assert app.test_client().get("/readyz").status_code == 503


def test_stopped_database_does_not_reach_the_caller_and_loses_no_event(
    make_app: Any, clock: ManualClock, base_config: dict[str, Any]
) -> None:
    from gateway.jobs import flush_events

    app = make_app()
    call = Call(app.test_client())
    greeting = call.incoming()
    services = app.extensions["deflect"]
    working_engine = services.database.engine
    broken = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none").extensions["deflect"].database
    services.database.engine, services.database.sessions = broken.engine, broken.sessions
    queued = call.press(call.press(greeting, "1"), "2")
    assert queued.find("Enqueue").text == "bank-cards"
    assert services.redis.llen("deflect:events:pending") == 2
    services.database.engine = working_engine
    from sqlalchemy.orm import sessionmaker

    services.database.sessions = sessionmaker(working_engine, expire_on_commit=False)
    with running_with(app.extensions["deflect"]):
        assert flush_events() == 2
        assert flush_events() == 0
    with services.database.session() as session:
        kinds = list(session.scalars(select(CallEvent.kind).where(CallEvent.call_sid == call.call_sid)))
    assert "queue.enqueued" in kinds and "menu.choice" in kinds


def test_lost_call_state_falls_back_to_the_queue(app: Any, call: Call) -> None:
    _queued(call)
    app.extensions["deflect"].redis.flushdb()
    assert call.wait().verbs() == ["Play"]
    assert call.post("/twilio/voice/menu/main_menu", Digits="1").find("Enqueue").text == "support"


def test_unknown_step_in_a_signed_url_falls_back_to_the_queue(call: Call) -> None:
    call.incoming()
    twiml = call.post("/twilio/voice/step/no_such_step")
    assert twiml.status == 200
    assert twiml.find("Enqueue").text == "support"


def test_database_down_when_the_offer_is_due_keeps_the_full_hold_experience(
    app: Any, call: Call, clock: ManualClock
) -> None:
    from sqlalchemy import create_engine

    _queued(call)
    services = app.extensions["deflect"]
    working = services.database.engine
    services.database.sessions.configure(bind=create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    try:
        clock.advance(50)
        call.queue_position = 4
        twiml = call.wait()
    finally:
        services.database.sessions.configure(bind=working)
    assert twiml.status == 200
    assert twiml.all("Gather") == []  # no offer while eligibility cannot be checked
    assert "Ваш номер в очереди: 4." in twiml.said()  # but the announcements and music go on
    assert twiml.verbs()[-1] == "Play"
    clock.advance(1)
    assert call.wait().all("Gather")  # the database is back: the offer is made

"""Fixtures for the deflection journey: the app talks to Twilio's contract (Prism) through a recording,
fault-injecting proxy, so every SMS we send is both contract-checked and counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from gateway.clock import ManualClock
from gateway.jobs import running_with
from gateway.store.models import CallEvent
from tests.support.calls import ACCOUNT_SID, Call, TwiML
from tests.support.prism import PrismServer
from tests.support.twilio_proxy import TwilioProxy

SENDER = "+77012345678"


@pytest.fixture
def proxy(twilio_api: PrismServer) -> Iterator[TwilioProxy]:
    with TwilioProxy(twilio_api.url) as running:
        yield running


@pytest.fixture
def twilio_config(proxy: TwilioProxy) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_API_BASE_URL": proxy.url,
        "TWILIO_SMS_FROM": SENDER,
        "TWILIO_HTTP_TIMEOUT": "5",
    }


@pytest.fixture
def twilio_app(make_app: Any, twilio_config: dict[str, str]) -> Any:
    return make_app(**twilio_config)


@pytest.fixture
def caller(twilio_app: Any) -> Call:
    return Call(twilio_app.test_client())


def run_jobs(app: Any) -> None:
    """What a worker process does: run every queued job (in this process, same configuration)."""
    queue = app.extensions["deflect"].queue
    with running_with(app.extensions["deflect"]):
        SimpleWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")


def reach_offer(call: Call, clock: ManualClock) -> TwiML:
    """The Russian bank flow: menu 1 (cards) -> 2 (card question) -> the bank-cards queue -> wait 50 s:
    the wait loop's answer, with the offer's Gather when it is played."""
    greeting = call.incoming()
    call.press(call.press(greeting, "1"), "2")
    clock.advance(50)
    return call.wait()


def reach_consent(call: Call, clock: ManualClock) -> TwiML:
    """The offer accepted: the consent question is being asked."""
    return call.press(reach_offer(call, clock), "1")


def offer_heard(call: Call, clock: ManualClock) -> bool:
    """Whether the offer (a Gather in the wait loop) is played after 50 s in the bank-cards queue."""
    return bool(reach_offer(call, clock).all("Gather"))


def events_of(app: Any, call: Call, kind: str) -> list[dict[str, Any]]:
    """The data of this call's recorded events of one kind, in order."""
    with app.extensions["deflect"].database.session() as session:
        return [
            e.data
            for e in session.scalars(
                select(CallEvent)
                .where(CallEvent.call_sid == call.call_sid, CallEvent.kind == kind)
                .order_by(CallEvent.id)
            )
        ]

"""An accepted offer's events are written with the acceptance, in its transaction: whatever fails after
it (keeping the call's state in Redis during a failover, say), reports count every SMS that is sent,
and recording the same events again stores nothing twice."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.deflection.accept import Acceptance, acceptance_events
from gateway.deflection.consent import ConsentGiven
from gateway.deflection.story import CallContext
from gateway.store.models import CallEvent
from tests.support.sessions import open_chat_session, outbox_id_of


def _kinds(app: Any, call_sid: str) -> list[str]:
    with app.extensions["deflect"].database.session() as session:
        query = select(CallEvent.kind).where(CallEvent.call_sid == call_sid).order_by(CallEvent.id)
        return list(session.scalars(query))


def _acceptance(call_sid: str) -> Acceptance:
    """The acceptance `open_chat_session` made, as far as its events are concerned (the offer's key)."""
    consent = ConsentGiven(
        f"{call_sid}:1", "+79161234567", call_sid, "ru-bank-support", 1, "v1", "", "sms", "1"
    )
    context = CallContext(
        call_sid, "+79161234567", "+74952223344", "ru-bank-support", 1, "ru-RU", "bank-cards"
    )
    return Acceptance(f"{call_sid}:1", consent, "ru-RU", "bank-cards", context, ["whatsapp"], "whatsapp_link")


def test_an_accepted_offer_is_in_the_call_log_as_soon_as_it_is_recorded(app: Any) -> None:
    chat = open_chat_session(app, call="5")
    assert _kinds(app, chat.call_sid) == ["consent.granted", "sms.queued"]


def test_recording_the_acceptance_events_again_stores_nothing_twice(app: Any) -> None:
    services = app.extensions["deflect"]
    chat = open_chat_session(app, call="6")
    events = acceptance_events(_acceptance(chat.call_sid), outbox_id_of(app, chat))
    services.call_log.record(chat.call_sid, events, services.clock.time())
    assert _kinds(app, chat.call_sid) == ["consent.granted", "sms.queued"]

"""The chat continues in WhatsApp with the call attached: the inbound message finds its call, the agent
platform receives the call's story, the customer is acknowledged once, and nothing is dropped."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError

from gateway.cli import main
from gateway.handoff.webhook import verify_signature
from gateway.jobs import replay_parked_webhooks, running_with
from gateway.store.models import CallEvent, Chat, Handoff, InboundMessage, SmsOutbox
from tests.deflection.conftest import run_jobs
from tests.support.calls import sign
from tests.support.messages import post_inbound
from tests.support.receiver import Receiver
from tests.support.sessions import open_chat_session, outbox_id_of

BASE = "https://voice.example.test"
SECRET = "desk-shared-secret"


@pytest.fixture
def desk_app(make_app: Any, receiver: Receiver) -> Any:
    return make_app(
        DEFLECT_HANDOFF_ADAPTERS="webhook",
        DEFLECT_HANDOFF_WEBHOOK_URL=receiver.url,
        DEFLECT_HANDOFF_WEBHOOK_SECRET=SECRET,
    )


def whatsapp(client: Any, body: str, sender: str = "+79161234567", sid: str = "SM" + "a" * 32) -> str:
    response = post_inbound(client, body, sender=sender, sid=sid)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def _inbound(app: Any) -> list[InboundMessage]:
    with app.extensions["deflect"].database.session() as session:
        rows = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        session.expunge_all()
        return rows


def _handoffs(app: Any) -> list[Handoff]:
    with app.extensions["deflect"].database.session() as session:
        rows = list(session.scalars(select(Handoff).order_by(Handoff.id)))
        session.expunge_all()
        return rows


def test_prefilled_whatsapp_message_reaches_the_desk_with_the_call_story(
    desk_app: Any, receiver: Receiver
) -> None:
    chat = open_chat_session(desk_app)
    reply = whatsapp(
        desk_app.test_client(),
        f"Здравствуйте! Продолжаю обращение по звонку в Example Bank, номер {chat.reference}",
    )
    assert "Оператор Example Bank видит детали вашего звонка" in reply  # the acknowledgement
    run_jobs(desk_app)
    [delivery] = receiver.received
    assert verify_signature(
        SECRET,
        delivery.headers["X-Timestamp"],
        delivery.body,
        delivery.headers["X-Signature"],
        now=_now(desk_app).timestamp(),
    )
    body = delivery.json()
    assert body["match"] == "reference" and body["flagged"] is None
    assert body["story"]["reference"] == chat.reference
    assert body["story"]["queue"] == "bank-cards"
    assert body["story"]["menu_choices"] == ["Карты", "Вопрос по карте"]
    assert body["story"]["waited_seconds"] == 370
    assert body["customer_address"] == "whatsapp:+79161234567"
    assert body["context_card_url"].startswith(f"{BASE}/card/")
    assert "Выбор в меню: Карты → Вопрос по карте" in body["summary"]
    [handoff] = _handoffs(desk_app)
    assert (handoff.status, handoff.external_id) == ("delivered", "ticket-1")
    with desk_app.extensions["deflect"].database.session() as session:
        assert session.get(Chat, chat.id).state == "handed_off"
        kinds = list(session.scalars(select(CallEvent.kind).where(CallEvent.call_sid == chat.call_sid)))
    assert {"chat.started", "chat.message", "chat.handed_off"} <= set(kinds)


def test_duplicate_message_sid_does_nothing_twice(desk_app: Any, receiver: Receiver) -> None:
    chat = open_chat_session(desk_app)
    client = desk_app.test_client()
    first = whatsapp(client, f"номер {chat.reference}")
    again = whatsapp(client, f"номер {chat.reference}")  # Twilio retried the webhook
    assert "<Message>" in first and "<Message>" not in again
    later = whatsapp(client, "И ещё вопрос", sid="SM" + "b" * 32)  # the next message of the chat
    assert "<Message>" not in later  # acknowledged once per chat
    run_jobs(desk_app)
    assert len(receiver.received) == 1
    assert [r.match for r in _inbound(desk_app)] == ["reference", "number"]


def test_edited_text_with_the_reference_still_matches(desk_app: Any) -> None:
    chat = open_chat_session(desk_app)
    spaced = f"{chat.reference[:3].lower()} {chat.reference[3:].lower()}"
    whatsapp(desk_app.test_client(), f"добрый день, у меня вопрос по карте. Номер: {spaced}, спасибо")
    [row] = _inbound(desk_app)
    assert (row.session_id, row.match) == (chat.id, "reference")


def test_number_alone_matches_a_live_session(desk_app: Any) -> None:
    chat = open_chat_session(desk_app)
    whatsapp(desk_app.test_client(), "Здравствуйте, мне звонили из банка?")
    [row] = _inbound(desk_app)
    assert (row.session_id, row.match) == (chat.id, "number")


def test_reference_from_another_number_is_handed_off_apart_and_flagged(
    desk_app: Any, receiver: Receiver
) -> None:
    # It used to take the call's session (flagged): a guessed reference gave a stranger the caller's
    # story. Now it is a chat of its own, and the session waits for the caller's number.
    chat = open_chat_session(desk_app)
    reply = whatsapp(
        desk_app.test_client(), f"Это жена, номер обращения {chat.reference}", sender="+79031112233"
    )
    run_jobs(desk_app)
    [row] = _inbound(desk_app)
    assert (row.session_id, row.match, row.flagged) == (None, "unmatched", "reference_from_other_number")
    assert chat.reference not in reply and "Оператор ответит здесь" in reply
    [delivery] = receiver.received
    assert delivery.json()["flagged"] == "reference_from_other_number"
    assert delivery.json()["story"]["reference"] is None and delivery.json()["session_id"] is None
    with desk_app.extensions["deflect"].database.session() as session:
        assert session.get(Chat, chat.id).state == "created"
        kinds = list(session.scalars(select(CallEvent.kind).where(CallEvent.call_sid == chat.call_sid)))
    assert "chat.reference_quoted" in kinds  # the call keeps a trace of it


def test_unknown_or_expired_reference_is_still_handed_off(desk_app: Any, receiver: Receiver) -> None:
    chat = open_chat_session(desk_app)
    with desk_app.extensions["deflect"].database.session() as session:
        session.get(Chat, chat.id).expires_at = desk_app.extensions["deflect"].clock.now() - timedelta(
            minutes=1
        )
    reply = whatsapp(desk_app.test_client(), f"номер {chat.reference}")
    assert "Оператор ответит здесь" in reply
    unknown = whatsapp(
        desk_app.test_client(), "Hello, reference 7CFA9W", sender="+77051234567", sid="SM" + "c" * 32
    )
    assert "An agent will reply here" in unknown
    run_jobs(desk_app)
    assert [r.match for r in _inbound(desk_app)] == ["expired", "unmatched"]
    assert [d.json()["match"] for d in receiver.received] == ["expired", "unmatched"]
    assert all(d.json()["context_card_url"] for d in receiver.received)


@pytest.mark.parametrize("sender", ["", "   ", "whatsapp:", "whatsapp:+"])
def test_message_without_a_sender_number_is_refused_and_kept_for_the_record(
    desk_app: Any, receiver: Receiver, sender: str
) -> None:
    chat = open_chat_session(desk_app)
    params = {
        "MessageSid": "SM" + "e" * 32,
        "From": sender,
        "To": "+77001234567",
        "Body": f"номер {chat.reference}",
    }
    path = "/twilio/messaging/inbound"

    response = desk_app.test_client().post(
        path, data=params, headers={"X-Twilio-Signature": sign(BASE + path, params)}
    )

    assert response.status_code == 400  # Twilio's debugger shows why
    assert response.get_data(as_text=True) == "message refused: no_sender_number\n"
    [row] = _inbound(desk_app)
    assert (row.session_id, row.match, row.flagged, row.body) == (
        None,
        "refused",
        "no_sender_number",
        params["Body"],
    )
    run_jobs(desk_app)
    assert (
        _handoffs(desk_app) == [] and receiver.received == []
    )  # no hand-off, so no API call without an address
    with desk_app.extensions["deflect"].database.session() as session:
        assert session.get(Chat, chat.id).state == "created"
        kinds = list(
            session.scalars(select(CallEvent.kind).where(CallEvent.message_id == params["MessageSid"]))
        )
    assert kinds == ["chat.refused"]


def test_events_of_a_chat_that_joined_no_call_are_kept_under_its_message(desk_app: Any) -> None:
    sid = "SM" + "d" * 32
    whatsapp(desk_app.test_client(), "Здравствуйте, у меня вопрос", sender="+77051234567", sid=sid)

    with desk_app.extensions["deflect"].database.session() as session:
        events = [
            (e.call_sid, e.message_id, e.kind, e.data["match"]) for e in session.scalars(select(CallEvent))
        ]
    assert events == [(None, sid, "chat.message", "unmatched")]  # reports tell it from a call


def test_receiver_down_is_retried_then_dead_lettered_then_replayed(
    desk_app: Any, receiver: Receiver, cli_env: None, monkeypatch: Any
) -> None:
    from gateway.handoff.dispatch import MAX_ATTEMPTS, RetryLater
    from gateway.jobs import deliver_handoff

    chat = open_chat_session(desk_app)
    receiver.status = 503
    whatsapp(desk_app.test_client(), f"номер {chat.reference}")
    [handoff] = _handoffs(desk_app)
    with running_with(desk_app.extensions["deflect"]):
        for _ in range(MAX_ATTEMPTS - 1):
            with pytest.raises(RetryLater):
                deliver_handoff(handoff.id)
        assert deliver_handoff(handoff.id) == "dead"
    assert len(receiver.received) == MAX_ATTEMPTS
    assert _handoffs(desk_app)[0].status == "dead"

    monkeypatch.setenv("DEFLECT_HANDOFF_ADAPTERS", "webhook")
    monkeypatch.setenv("DEFLECT_HANDOFF_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("DEFLECT_HANDOFF_WEBHOOK_SECRET", SECRET)
    listed = CliRunner().invoke(main, ["handoff", "dead-letters"])
    assert listed.exit_code == 0, listed.output
    assert f"{handoff.id}  webhook" in listed.output and "503" in listed.output
    receiver.status = 200
    replayed = CliRunner().invoke(main, ["handoff", "dead-letters", "--replay", str(handoff.id)])
    assert replayed.exit_code == 0, replayed.output
    run_jobs(desk_app)
    assert _handoffs(desk_app)[0].status == "delivered"
    assert receiver.received[-1].json()["story"]["reference"] == chat.reference


def test_stop_in_the_chat_records_the_opt_out(desk_app: Any, receiver: Receiver) -> None:
    from gateway.store.models import OptOut

    reply = whatsapp(desk_app.test_client(), "СТОП")
    assert "отписались" in reply
    with desk_app.extensions["deflect"].database.session() as session:
        assert session.get(OptOut, "+79161234567") is not None
    run_jobs(desk_app)
    assert receiver.received == []


def test_sessions_past_their_expiry_become_expired_with_an_event(desk_app: Any) -> None:
    from gateway.jobs import expire_chats

    live, old = open_chat_session(desk_app), open_chat_session(desk_app, number="+79031112233", call="2")
    with desk_app.extensions["deflect"].database.session() as session:
        session.get(Chat, old.id).expires_at = desk_app.extensions["deflect"].clock.now() - timedelta(
            seconds=1
        )
    with running_with(desk_app.extensions["deflect"]):
        assert expire_chats() == 1
        assert expire_chats() == 0
    with desk_app.extensions["deflect"].database.session() as session:
        assert session.get(Chat, old.id).state == "expired"
        assert session.get(Chat, live.id).state == "created"
        kinds = list(session.scalars(select(CallEvent.kind).where(CallEvent.call_sid == old.call_sid)))
    assert kinds == ["consent.granted", "sms.queued", "session.expired"]  # accepted, then expired


def test_messages_and_statuses_during_a_database_outage_are_parked_then_replayed(
    desk_app: Any, receiver: Receiver
) -> None:
    chat = open_chat_session(desk_app)
    outbox_id = outbox_id_of(desk_app, chat)
    services = desk_app.extensions["deflect"]
    client = desk_app.test_client()
    working = services.database.engine
    services.database.sessions.configure(bind=create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    try:
        reply = whatsapp(client, f"номер {chat.reference}")  # answered 200, not 5xx: Twilio won't resend
        params = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered"}
        path = f"/twilio/messaging/status/{outbox_id}"
        status = client.post(path, data=params, headers={"X-Twilio-Signature": sign(BASE + path, params)})
        with running_with(desk_app.extensions["deflect"]):
            with pytest.raises(OperationalError):
                replay_parked_webhooks()  # still down: everything stays parked
    finally:
        services.database.sessions.configure(bind=working)
    assert "<Message>" not in reply and status.status_code == 204
    assert services.redis.llen("deflect:webhooks:parked") == 2
    with running_with(desk_app.extensions["deflect"]):
        assert replay_parked_webhooks() == 2
        assert replay_parked_webhooks() == 0
    run_jobs(desk_app)
    [row] = _inbound(desk_app)
    assert (row.session_id, row.match) == (chat.id, "reference")
    assert receiver.received[0].json()["story"]["reference"] == chat.reference
    with services.database.session() as session:
        assert session.get(SmsOutbox, outbox_id).status == "delivered"


def _now(app: Any) -> datetime:
    return app.extensions["deflect"].clock.now()  # type: ignore[no-any-return]

"""A chat cannot be hijacked by guessing its reference. A message is looked up for one reference at most,
only the caller's own number (or the link token from their SMS) takes the session, a right reference
from anyone else is handed off apart with no call story, failed lookups are limited per sender, and the
reference is never echoed to a stranger. Through the real webhooks of every channel, signed."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import or_, select

from gateway.clock import ManualClock
from gateway.handoff.card import read_card_token
from gateway.handoff.viber import SIGNATURE_HEADER
from gateway.messaging.deeplinks import prefilled_text
from gateway.store.models import CallEvent, Chat, InboundMessage
from gateway.web.telegram import SECRET_HEADER
from tests.deflection.conftest import run_jobs
from tests.support.fake_telegram import FakeTelegram
from tests.support.guesses import guessed_references, many_references
from tests.support.messages import post_inbound
from tests.support.receiver import Receiver
from tests.support.sessions import open_chat_session

BASE = "https://voice.example.test"
CALLER = "+79161234567"
STRANGER = "+79031112233"
TELEGRAM_TOKEN = "123456:test-token"
TELEGRAM_SECRET = "webhook-secret_1"
VIBER_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
LOOKUP_LIMIT = 5
WINDOW_MINUTES = 60
# The stranger in each channel: a phone number for Twilio's, a chat or user id for the messengers.
STRANGERS = {"whatsapp": STRANGER, "sms": STRANGER, "telegram": "555000111", "viber": "01234567890A="}


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TELEGRAM_TOKEN) as fake:
        yield fake


@pytest.fixture
def desk_app(make_app: Any, receiver: Receiver, telegram: FakeTelegram) -> Any:
    return make_app(
        DEFLECT_HANDOFF_ADAPTERS="webhook",
        DEFLECT_HANDOFF_WEBHOOK_URL=receiver.url,
        DEFLECT_HANDOFF_WEBHOOK_SECRET="desk-shared-secret",
        DEFLECT_TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        DEFLECT_TELEGRAM_SECRET=TELEGRAM_SECRET,
        DEFLECT_TELEGRAM_API_BASE_URL=telegram.url,
        DEFLECT_VIBER_AUTH_TOKEN=VIBER_TOKEN,
        DEFLECT_CHAT_LOOKUP_LIMIT=str(LOOKUP_LIMIT),
        DEFLECT_CHAT_LOOKUP_WINDOW_MINUTES=str(WINDOW_MINUTES),
    )


class Chats:
    """Sends a message as someone in one channel through its real webhook; returns what they saw back."""

    def __init__(self, app: Any, telegram: FakeTelegram) -> None:
        self.client = app.test_client()
        self.telegram = telegram
        self.ids = itertools.count(1)

    def send(self, channel: str, body: str, sender: str) -> str:
        n = next(self.ids)
        if channel in ("whatsapp", "sms"):
            response = post_inbound(
                self.client, body, sender=sender, sid=f"SM{n:032x}", channel=channel, profile_name=None
            )
            assert response.status_code == 200
            root = ElementTree.fromstring(response.get_data())
            return " ".join(m.text or "" for m in root.iter("Message"))
        if channel == "telegram":
            chat_id = int(sender)
            before = len(self.telegram.sent)
            update = {
                "update_id": 800000 + n,
                "message": {
                    "message_id": n,
                    "date": 1764000000,
                    "from": {"id": chat_id, "is_bot": False, "first_name": "X"},
                    "chat": {"id": chat_id, "type": "private"},
                    "text": body,
                },
            }
            response = self.client.post(
                "/telegram/webhook", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET}
            )
            assert response.status_code == 200
            return " ".join(m["text"] for m in self.telegram.sent[before:] if m["chat_id"] == chat_id)
        assert channel == "viber"
        return self.viber({"event": "message", "message": {"type": "text", "text": body}}, sender, n)

    def viber_opened(self, context: str, user_id: str) -> str:
        """The customer tapped a viber://pa link with this context; returns the welcome message."""
        return self.viber({"event": "conversation_started", "type": "open", "context": context}, user_id)

    def viber(self, event: dict[str, Any], user_id: str, n: int | None = None) -> str:
        user = {"id": user_id, "name": "X", "api_version": 8}
        data = {**event, "timestamp": 1764000000000, "message_token": 4900000000 + (n or next(self.ids))}
        data["sender" if event["event"] == "message" else "user"] = user
        raw = json.dumps(data).encode()
        signature = hmac.new(VIBER_TOKEN.encode(), raw, hashlib.sha256).hexdigest()
        response = self.client.post(
            "/viber/webhook", data=raw, content_type="application/json", headers={SIGNATURE_HEADER: signature}
        )
        assert response.status_code == 200
        return str((response.get_json() or {}).get("text", ""))


@pytest.fixture
def chats(desk_app: Any, telegram: FakeTelegram) -> Chats:
    return Chats(desk_app, telegram)


def prefilled(reference: str) -> str:
    return prefilled_text("ru-RU", reference, "Example Bank")


def _inbound(app: Any) -> list[InboundMessage]:
    with app.extensions["deflect"].database.session() as session:
        rows = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        session.expunge_all()
        return rows


def _state(app: Any, chat: Chat) -> str:
    with app.extensions["deflect"].database.session() as session:
        return str(session.get(Chat, chat.id).state)


def _events(app: Any, call_sid_or_message_id: str) -> list[str]:
    """The events kept under a call, or under the message of a chat that joined none."""
    owner = call_sid_or_message_id
    with app.extensions["deflect"].database.session() as session:
        return list(
            session.scalars(
                select(CallEvent.kind).where(or_(CallEvent.call_sid == owner, CallEvent.message_id == owner))
            )
        )


def assert_stranger_got_nothing(app: Any, receiver: Receiver, chat: Chat, reply: str) -> None:
    """The stranger's chat did not take the session, nothing echoed the reference to them, and the desk
    got their chat without the call's story, number or card."""
    assert chat.reference not in reply
    assert all(row.session_id is None for row in _inbound(app))
    assert _state(app, chat) == "created"
    run_jobs(app)
    for delivery in receiver.received:
        payload = delivery.json()
        assert payload["session_id"] is None
        assert payload["story"] == {
            **dict.fromkeys(payload["story"], None),
            "menu_choices": [],
            "keyed_number": False,
        }
        assert CALLER not in delivery.body.decode() and chat.call_sid not in delivery.body.decode()
        services = app.extensions["deflect"]
        token = payload["context_card_url"].rsplit("/", 1)[1]
        card = read_card_token(services.settings.secret_key, token, 3600, services.clock.time())
        assert card is not None and card.session_id is None


def assert_caller_still_gets_the_session(app: Any, chats: Chats, receiver: Receiver, chat: Chat) -> None:
    already = len(receiver.received)
    reply = chats.send("whatsapp", prefilled(chat.reference), CALLER)
    assert "Оператор Example Bank видит детали вашего звонка" in reply and chat.reference in reply
    last = _inbound(app)[-1]
    assert (last.session_id, last.match, last.flagged) == (chat.id, "reference", None)
    run_jobs(app)
    [delivery] = receiver.received[already:]
    payload = delivery.json()
    assert payload["session_id"] == chat.id and payload["customer_address"] == f"whatsapp:{CALLER}"
    assert payload["story"]["reference"] == chat.reference and payload["story"]["caller"] == CALLER
    assert _state(app, chat) == "handed_off"


@pytest.mark.parametrize("channel", ["whatsapp", "sms", "telegram", "viber"])
def test_message_with_hundreds_of_guessed_references_never_takes_the_callers_session(
    desk_app: Any, chats: Chats, receiver: Receiver, channel: str
) -> None:
    chat = open_chat_session(desk_app)
    guesses = guessed_references(585, seed=13, avoid=chat.reference)
    guesses.insert(292, chat.reference)
    body = many_references(guesses)

    reply = chats.send(channel, body, STRANGERS[channel])

    [row] = _inbound(desk_app)
    assert (row.session_id, row.match, row.flagged) == (None, "unmatched", None)
    assert_stranger_got_nothing(desk_app, receiver, chat, reply)
    assert_caller_still_gets_the_session(desk_app, chats, receiver, chat)


@pytest.mark.parametrize(
    ("channel", "flag"),
    [
        ("whatsapp", "reference_from_other_number"),
        ("sms", "reference_from_other_number"),
        ("telegram", "reference_without_number"),
        ("viber", "reference_without_number"),
    ],
)
def test_right_reference_from_anyone_else_is_handed_off_apart_without_the_call_story(
    desk_app: Any, chats: Chats, receiver: Receiver, channel: str, flag: str
) -> None:
    chat = open_chat_session(desk_app)

    reply = chats.send(channel, prefilled(chat.reference), STRANGERS[channel])

    [row] = _inbound(desk_app)
    assert (row.session_id, row.match, row.flagged) == (None, "unmatched", flag)
    assert_stranger_got_nothing(desk_app, receiver, chat, reply)
    [delivery] = receiver.received
    assert delivery.json()["flagged"] == flag  # the agent is warned
    assert "chat.reference_quoted" in _events(desk_app, chat.call_sid)  # and the call keeps a trace
    assert_caller_still_gets_the_session(desk_app, chats, receiver, chat)


@pytest.mark.parametrize("channel", ["whatsapp", "sms", "telegram"])
def test_repeated_single_guesses_trip_the_limit_and_then_even_a_right_reference_is_not_looked_up(
    desk_app: Any, chats: Chats, receiver: Receiver, clock: ManualClock, channel: str
) -> None:
    chat = open_chat_session(desk_app)
    stranger = STRANGERS[channel]
    for guess in guessed_references(LOOKUP_LIMIT, seed=5, avoid=chat.reference):
        assert chat.reference not in chats.send(channel, prefilled(guess), stranger)

    reply = chats.send(channel, prefilled(chat.reference), stranger)

    last = _inbound(desk_app)[-1]
    assert (last.session_id, last.match, last.flagged) == (None, "unmatched", "too_many_failed_lookups")
    assert "chat.reference_quoted" not in _events(desk_app, chat.call_sid)  # not even looked up
    assert "chat.lookups_limited" in _events(desk_app, last.message_id[:34])  # reports see the refusal
    assert_stranger_got_nothing(desk_app, receiver, chat, reply)
    assert_caller_still_gets_the_session(desk_app, chats, receiver, chat)  # the limit is per sender


def test_limited_telegram_chat_is_matched_again_by_its_link_once_the_window_passes(
    desk_app: Any, chats: Chats, receiver: Receiver, clock: ManualClock, telegram: FakeTelegram
) -> None:
    chat = open_chat_session(desk_app)
    stranger = STRANGERS["telegram"]
    for n in range(LOOKUP_LIMIT):
        chats.send("telegram", f"/start wrong-token-{n}", stranger)

    chats.send("telegram", f"/start {chat.link_token}", stranger)  # the right link, too late
    assert _inbound(desk_app)[-1].flagged == "too_many_failed_lookups"
    assert _state(desk_app, chat) == "created"

    clock.advance(WINDOW_MINUTES * 60)
    reply = chats.send("telegram", f"/start {chat.link_token}", stranger)

    last = _inbound(desk_app)[-1]
    assert (last.session_id, last.match) == (chat.id, "link")
    assert "видит детали вашего звонка" in reply and chat.reference not in reply


def test_viber_context_is_the_link_token_and_a_reference_there_takes_nothing(
    desk_app: Any, chats: Chats, receiver: Receiver
) -> None:
    chat = open_chat_session(desk_app)

    # A context with the reference: a guess, or a link sent before links carried the token.
    welcome = chats.viber_opened(chat.reference, STRANGERS["viber"])

    [row] = _inbound(desk_app)
    assert (row.session_id, row.match, row.flagged) == (None, "unmatched", "reference_without_number")
    assert_stranger_got_nothing(desk_app, receiver, chat, welcome)

    welcome = chats.viber_opened(chat.link_token, "viber-user-of-the-caller")

    last = _inbound(desk_app)[-1]
    assert (last.session_id, last.match) == (chat.id, "link")
    assert "видит детали вашего звонка" in welcome and chat.reference not in welcome


def test_telegram_link_sent_before_the_upgrade_reads_like_a_reference_without_a_number(
    desk_app: Any, chats: Chats, receiver: Receiver
) -> None:
    chat = open_chat_session(desk_app)

    reply = chats.send("telegram", f"/start {chat.reference}", STRANGERS["telegram"])

    [row] = _inbound(desk_app)
    assert (row.session_id, row.match, row.flagged, row.body) == (
        None,
        "unmatched",
        "reference_without_number",
        "/start",
    )
    assert_stranger_got_nothing(desk_app, receiver, chat, reply)
    assert_caller_still_gets_the_session(desk_app, chats, receiver, chat)

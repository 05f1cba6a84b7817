"""Viber: a customer who taps our viber://pa link continues the call in Viber. Callbacks are
authenticated by their signature, the link's context is what gets matched, the acknowledgement comes
back once as Viber's welcome message, and Viber's resending changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from sqlalchemy import select

from gateway.handoff import inbound
from gateway.handoff.inbound import InboundChat
from gateway.handoff.viber import SIGNATURE_HEADER, ViberEvent, parse_event, verify_signature
from gateway.store.models import Chat, Handoff, InboundMessage
from tests.support.fake_receive import FakeReceive
from tests.support.sessions import open_chat_session

AUTH_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
USER_ID = "01234567890A="
BRAND = "Example Bank"


@pytest.fixture
def viber_app(make_app: Any) -> Any:
    return make_app(DEFLECT_VIBER_AUTH_TOKEN=AUTH_TOKEN)


def sign(body: bytes, token: str = AUTH_TOKEN) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def started(context: str | None, token: int = 4912661846655238145, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event": "conversation_started",
        "timestamp": 1764000000000,
        "message_token": token,
        "type": "open",
        "user": {"id": USER_ID, "name": "Анна", "language": "ru", "country": "RU", "api_version": 8},
        "subscribed": False,
        **extra,
    }
    if context is not None:
        data["context"] = context
    return data


def message(text: str, token: int = 5098034272017990000, **fields: Any) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": 1764000060000,
        "message_token": token,
        "sender": {"id": USER_ID, "name": "Анна", "language": "ru", "country": "RU", "api_version": 8},
        "message": {"type": "text", "text": text, **fields},
    }


def post(client: Any, data: Any, signature: str | None = "sign", body: bytes | None = None) -> Any:
    raw = body if body is not None else json.dumps(data, ensure_ascii=False).encode()
    headers = {SIGNATURE_HEADER: sign(raw) if signature == "sign" else signature} if signature else {}
    return client.post("/viber/webhook", data=raw, content_type="application/json", headers=headers)


def _rows(app: Any) -> tuple[list[InboundMessage], list[Handoff]]:
    with app.extensions["deflect"].database.session() as session:
        inbound_rows = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        handoffs = list(session.scalars(select(Handoff).order_by(Handoff.id)))
        session.expunge_all()
        return inbound_rows, handoffs


# --- the signature -------------------------------------------------------------------------------

BODY = json.dumps(started("K7XAMN")).encode()


@pytest.mark.parametrize(
    ("token", "body", "header", "valid"),
    [
        (AUTH_TOKEN, BODY, sign(BODY), True),
        (AUTH_TOKEN, BODY, sign(BODY).upper(), True),  # hex is hex, whatever its case
        (AUTH_TOKEN, BODY, f" {sign(BODY)}\n", True),
        (AUTH_TOKEN, BODY.replace(b"K7XAMN", b"K7XAMP"), sign(BODY), False),  # tampered body
        (AUTH_TOKEN, BODY + b" ", sign(BODY), False),  # the raw bytes are signed, not the JSON's meaning
        ("another-bot-token", BODY, sign(BODY), False),  # signed with the wrong token
        (AUTH_TOKEN, BODY, sign(BODY)[:-1], False),
        (AUTH_TOKEN, BODY, "", False),  # missing header
        (AUTH_TOKEN, BODY, None, False),
        (AUTH_TOKEN, BODY, "ж" * 64, False),
        ("", BODY, sign(BODY, ""), False),  # no token configured: nothing is valid
    ],
)
def test_signature(token: str, body: bytes, header: str | None, valid: bool) -> None:
    assert verify_signature(token, body, header) is valid


# --- the webhook ---------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", [None, "", "0" * 64, sign(BODY, "another-bot-token")])
def test_callback_without_the_right_signature_is_refused(
    viber_app: Any, receive: FakeReceive, signature: str | None
) -> None:
    response = post(viber_app.test_client(), started("K7XAMN"), signature)
    assert response.status_code == 403
    assert receive.chats == []


def test_tampered_callback_is_refused(viber_app: Any, receive: FakeReceive) -> None:
    tampered = json.dumps(started("K7XAMP")).encode()
    assert post(viber_app.test_client(), None, signature=sign(BODY), body=tampered).status_code == 403
    assert receive.chats == []


def test_webhook_is_absent_when_viber_is_not_configured(make_app: Any, receive: FakeReceive) -> None:
    app = make_app()
    assert post(app.test_client(), started("K7XAMN")).status_code == 404
    assert receive.chats == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]", b""])
def test_malformed_callback_is_a_bad_request(viber_app: Any, receive: FakeReceive, body: bytes) -> None:
    assert post(viber_app.test_client(), None, body=body).status_code == 400
    assert receive.chats == []


def test_link_context_is_matched_and_acknowledged_as_the_welcome_message(
    viber_app: Any, receive: FakeReceive
) -> None:
    response = post(viber_app.test_client(), started("K7XAMN"))

    assert response.status_code == 200
    assert response.get_json() == {
        "sender": {"name": BRAND},
        "type": "text",
        "text": "Спасибо! Оператор ответит здесь.",
    }
    assert receive.chats == [
        InboundChat(
            message_id="viber:4912661846655238145",
            channel="viber",
            sender=f"viber:{USER_ID}",
            body="",  # the context is the SMS link's key: matched, not kept as text
            profile_name="Анна",
            link_token="K7XAMN",
        )
    ]


def test_welcome_message_respects_viber_limits(make_app: Any, receive: FakeReceive) -> None:
    app = make_app(DEFLECT_VIBER_AUTH_TOKEN=AUTH_TOKEN, DEFLECT_BRAND="Б" * 40)
    receive.reply = "я" * 8000
    welcome = post(app.test_client(), started("K7XAMN")).get_json()
    assert welcome["sender"]["name"] == "Б" * 28 and len(welcome["text"]) == 7000


def test_no_reply_means_an_empty_answer(viber_app: Any, receive: FakeReceive) -> None:
    receive.reply = None
    response = post(viber_app.test_client(), started("K7XAMN"))
    assert response.status_code == 200 and response.get_json() == {}


def test_message_is_passed_as_written_and_gets_no_reply_in_the_response(
    viber_app: Any, receive: FakeReceive
) -> None:
    response = post(viber_app.test_client(), message("Здравствуйте, K7XAMN"))
    assert response.status_code == 200 and response.get_json() == {}  # a reply needs send_message
    assert receive.chats[0].message_id == "viber:5098034272017990000"
    assert receive.chats[0].body == "Здравствуйте, K7XAMN"


def test_picture_reaches_the_agent_with_its_caption(viber_app: Any, receive: FakeReceive) -> None:
    data = message("чек об оплате", type="picture", media="https://dl-media.viber.com/1/share/2/x.jpg")
    assert post(viber_app.test_client(), data).status_code == 200
    assert receive.chats[0].body == "чек об оплате"
    assert receive.chats[0].media == {
        "items": [{"url": "https://dl-media.viber.com/1/share/2/x.jpg", "type": "picture"}]
    }


def test_opening_the_bot_without_our_link_is_not_a_chat(viber_app: Any, receive: FakeReceive) -> None:
    for data in (started(None), started(""), started("   ")):
        response = post(viber_app.test_client(), data)
        assert response.status_code == 200 and response.get_json() == {}
    assert receive.chats == []


@pytest.mark.parametrize(
    "data",
    [
        {"event": "webhook", "timestamp": 1764000000000, "chat_hostname": "SN-376_", "message_token": 1},
        {"event": "subscribed", "timestamp": 1, "user": {"id": USER_ID}, "message_token": 2},
        {"event": "unsubscribed", "timestamp": 1, "user_id": USER_ID, "message_token": 3},
        {"event": "delivered", "timestamp": 1, "message_token": 4, "user_id": USER_ID},
        {"event": "seen", "timestamp": 1, "message_token": 5, "user_id": USER_ID},
        {"event": "failed", "timestamp": 1, "message_token": 6, "user_id": USER_ID, "desc": "x"},
        {"something": "else"},
        {**message("hi"), "sender": {"name": "no id"}},  # malformed: acknowledged, never retried
    ],
)
def test_other_events_are_acknowledged_and_ignored(viber_app: Any, receive: FakeReceive, data: Any) -> None:
    response = post(viber_app.test_client(), data)
    assert response.status_code == 200 and response.get_json() == {}
    assert receive.chats == []


def test_failure_in_the_domain_asks_viber_to_send_again(viber_app: Any, receive: FakeReceive) -> None:
    receive.fail = True
    response = post(viber_app.test_client(), started("K7XAMN"))
    assert response.status_code == 503


# --- with the real inbound domain ----------------------------------------------------------------


def _state(app: Any, chat_id: int) -> str:
    with app.extensions["deflect"].database.session() as session:
        return str(session.scalar(select(Chat.state).where(Chat.id == chat_id)))


def test_tapping_the_link_ties_the_viber_chat_to_its_call(viber_app: Any) -> None:
    chat = open_chat_session(viber_app)
    client = viber_app.test_client()

    response = post(client, started(chat.link_token, token=700001))

    assert response.status_code == 200
    welcome = response.get_json()
    assert welcome["sender"] == {"name": BRAND} and welcome["type"] == "text"
    assert "видит детали вашего звонка" in welcome["text"]  # chat_ack: the agent has the call's details
    assert chat.reference not in welcome["text"]  # echoed only to the caller's own number
    (row,), handoffs = _rows(viber_app)
    assert (row.message_id, row.channel, row.sender, row.profile_name) == (
        "viber:700001",
        "viber",
        f"viber:{USER_ID}",
        "Анна",
    )
    assert (row.session_id, row.match, row.body) == (chat.id, "link", "")
    assert handoffs and {h.session_id for h in handoffs} == {chat.id}
    assert handoffs[0].payload["story"]["reference"] == chat.reference
    assert _state(viber_app, chat.id) == "chat_started"

    # Viber sends the same callback again: nothing new, and no second welcome.
    again = post(client, started(chat.link_token, token=700001))
    assert again.status_code == 200 and again.get_json() == {}
    assert [len(rows) for rows in _rows(viber_app)] == [1, len(handoffs)]


def test_tapping_the_link_again_adds_no_hand_off_and_no_welcome(viber_app: Any) -> None:
    chat = open_chat_session(viber_app)
    client = viber_app.test_client()
    post(client, started(chat.link_token, token=700011))
    _, handoffs = _rows(viber_app)

    # A second tap is a new conversation_started (a new message_token) for the same call.
    response = post(client, started(chat.link_token, token=700012))

    assert response.status_code == 200 and response.get_json() == {}
    inbound_rows, handoffs_after = _rows(viber_app)
    assert [(r.session_id, r.match) for r in inbound_rows] == [(chat.id, "link")] * 2
    assert len(handoffs_after) == len(handoffs)


def test_message_with_the_prefilled_reference_joins_the_chat_already_handed_off(viber_app: Any) -> None:
    chat = open_chat_session(viber_app)
    client = viber_app.test_client()
    post(client, started(chat.link_token, token=700021))
    _, handoffs = _rows(viber_app)

    # The link pre-fills the message box with a text that ends with the reference.
    response = post(client, message(f"Здравствуйте! Продолжаю звонок, номер {chat.reference}", token=700022))

    assert response.status_code == 200 and response.get_json() == {}
    inbound_rows, handoffs_after = _rows(viber_app)
    # Tied by the sender's first message (the link); a reference typed in Viber alone would not be.
    assert (inbound_rows[-1].session_id, inbound_rows[-1].match) == (chat.id, "sender")
    assert len(handoffs_after) == len(handoffs)  # the conversation goes on in the agents' platform


def test_later_message_without_the_reference_joins_the_call_of_the_first(viber_app: Any) -> None:
    """Viber gives no phone number: a follow-up without the reference is tied to the call its sender's
    first message found (match "sender"), and is not handed off a second time."""
    chat = open_chat_session(viber_app)
    client = viber_app.test_client()
    post(client, started(chat.link_token, token=700031))
    _, handoffs = _rows(viber_app)

    response = post(client, message("У меня списали деньги дважды", token=700032))

    assert response.status_code == 200 and response.get_json() == {}
    inbound_rows, handoffs_after = _rows(viber_app)
    last = inbound_rows[-1]
    assert (last.sender, last.session_id, last.match) == (f"viber:{USER_ID}", chat.id, "sender")
    assert len(handoffs_after) == len(handoffs)


def test_unknown_context_is_still_handed_off_and_acknowledged(viber_app: Any) -> None:
    response = post(viber_app.test_client(), started("promo-spring", token=700041))

    assert response.status_code == 200
    assert response.get_json()["text"] == inbound.UNMATCHED_REPLY["en"]
    (row,), handoffs = _rows(viber_app)
    assert (row.session_id, row.match, row.body) == (None, "unmatched", "")
    assert len(handoffs) >= 1  # nobody is dropped: an unmatched chat is handed off too


# --- parsing -------------------------------------------------------------------------------------


def test_conversation_started_is_read_into_an_event() -> None:
    assert parse_event(started(" K7XAMN ", token=7, subscribed=True)) == ViberEvent(
        event="conversation_started",
        message_token=7,
        user_id=USER_ID,
        user_name="Анна",
        context="K7XAMN",
        subscribed=True,
    )


def test_message_is_read_into_an_event() -> None:
    assert parse_event(message("привет", token=8)) == ViberEvent(
        event="message", message_token=8, user_id=USER_ID, user_name="Анна", text="привет"
    )


def test_sticker_without_text_and_user_without_name() -> None:
    data = message("", type="sticker", media="https://viber.com/sticker.png", sticker_id=46105)
    del data["message"]["text"]
    data["sender"] = {"id": USER_ID}
    event = parse_event(data)
    assert event is not None
    assert (event.text, event.user_name) == ("", None)
    assert event.media == {"items": [{"url": "https://viber.com/sticker.png", "type": "sticker"}]}


@pytest.mark.parametrize(
    "data",
    [
        {**started("K7XAMN"), "message_token": None},
        {**started("K7XAMN"), "message_token": True},
        {**started("K7XAMN"), "message_token": -1},
        {**started("K7XAMN"), "message_token": "12ab"},
        {**started("K7XAMN"), "user": "01234567890A="},
        {**started("K7XAMN"), "user": {"id": ""}},
        {**started("K7XAMN"), "user": {"id": "x" * 59}},  # would not fit InboundMessage.sender
        {**message("hi"), "message": "hi"},
        {"event": "seen", "message_token": 1, "user_id": USER_ID},
        [started("K7XAMN")],
        None,
    ],
)
def test_malformed_or_unneeded_events_are_none(data: Any) -> None:
    assert parse_event(data) is None


def test_message_token_given_as_a_string_is_read() -> None:
    event = parse_event({**started("K7XAMN"), "message_token": "4912661846655238145"})
    assert event is not None and event.message_token == 4912661846655238145

"""Telegram: a customer who followed the t.me deep link continues the call in Telegram. Updates are
authenticated by the webhook's secret token, the /start payload is what gets matched, the bot's
acknowledgement reaches the chat once, and Telegram's retries change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from gateway.handoff.inbound import InboundChat
from gateway.handoff.telegram import TelegramBot, TelegramError, TelegramMessage, parse_update, start_payload
from gateway.store.models import Handoff, InboundMessage
from gateway.web.telegram import SECRET_HEADER
from tests.support.fake_receive import FakeReceive
from tests.support.fake_telegram import FakeTelegram

TOKEN = "123456:test-token"
SECRET = "webhook-secret_1"
CHAT_ID = 555000111
LINK_TOKEN = "Xb3kQ9vR2mT7yW4pL8nJ5A"


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture
def tg_app(make_app: Any, telegram: FakeTelegram) -> Any:
    return make_app(
        DEFLECT_TELEGRAM_BOT_TOKEN=TOKEN,
        DEFLECT_TELEGRAM_SECRET=SECRET,
        DEFLECT_TELEGRAM_API_BASE_URL=telegram.url,
    )


def update(text: str, update_id: int = 900001, chat_id: int = CHAT_ID, **message: Any) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 42,
            "date": 1764000000,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Анна", "username": "anna_k"},
            "chat": {"id": chat_id, "type": "private", "first_name": "Анна"},
            "text": text,
            **message,
        },
    }


def post(client: Any, data: Any, secret: str | None = SECRET) -> Any:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return client.post("/telegram/webhook", json=data, headers=headers)


# --- the webhook ---------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
def test_update_without_the_right_secret_is_refused(
    tg_app: Any, telegram: FakeTelegram, receive: FakeReceive, secret: str | None
) -> None:
    response = post(tg_app.test_client(), update("/start K7XAMN"), secret)
    assert response.status_code == 403
    assert receive.chats == [] and telegram.sent == []


def test_webhook_is_absent_when_telegram_is_not_configured(make_app: Any, receive: FakeReceive) -> None:
    app = make_app()
    assert post(app.test_client(), update("hi")).status_code == 404
    assert receive.chats == []


def test_malformed_update_is_a_bad_request(tg_app: Any, receive: FakeReceive) -> None:
    response = tg_app.test_client().post(
        "/telegram/webhook",
        data=b"{not json",
        content_type="application/json",
        headers={SECRET_HEADER: SECRET},
    )
    assert response.status_code == 400
    assert receive.chats == []


def test_start_link_is_matched_by_its_payload_and_acknowledged(
    tg_app: Any, telegram: FakeTelegram, receive: FakeReceive
) -> None:
    response = post(tg_app.test_client(), update(f"/start {LINK_TOKEN}"))

    assert response.status_code == 200 and response.get_json() == {}
    assert receive.chats == [
        InboundChat(
            message_id="tg:900001",
            channel="telegram",
            sender=f"tg:{CHAT_ID}",
            body="/start",  # the payload is the SMS link's key: matched, not kept as text
            profile_name="Анна",
            link_token=LINK_TOKEN,
        )
    ]
    assert telegram.sent == [{"chat_id": CHAT_ID, "text": "Спасибо! Оператор ответит здесь."}]


def test_plain_message_is_passed_as_written(tg_app: Any, receive: FakeReceive) -> None:
    post(tg_app.test_client(), update("Здравствуйте, у меня вопрос по карте"))
    assert receive.chats[0].body == "Здравствуйте, у меня вопрос по карте"


def test_retried_update_gets_no_second_reply(
    tg_app: Any, telegram: FakeTelegram, receive: FakeReceive
) -> None:
    client = tg_app.test_client()
    assert post(client, update("/start K7XAMN")).status_code == 200
    assert post(client, update("/start K7XAMN")).status_code == 200
    assert len(receive.chats) == 2
    assert len(telegram.sent) == 1


def test_no_reply_means_nothing_is_sent(tg_app: Any, telegram: FakeTelegram, receive: FakeReceive) -> None:
    receive.reply = None
    assert post(tg_app.test_client(), update("ещё вопрос")).status_code == 200
    assert telegram.sent == []


def test_failed_reply_still_answers_telegram_with_200(
    tg_app: Any, telegram: FakeTelegram, receive: FakeReceive
) -> None:
    # Telegram would resend the update; the chat is stored and handed off already.
    telegram.unknown_chats.add(CHAT_ID)
    assert post(tg_app.test_client(), update("/start K7XAMN")).status_code == 200
    assert len(receive.chats) == 1


@pytest.mark.parametrize(
    "data",
    [
        {"update_id": 900002, "edited_message": update("x")["message"]},
        {"update_id": 900003, "callback_query": {"id": "1", "data": "x"}},
        update("hello group", chat={"id": -100123, "type": "supergroup"}),
        {"something": "else"},
        [1, 2, 3],
    ],
)
def test_updates_other_than_private_messages_are_acknowledged_and_ignored(
    tg_app: Any, telegram: FakeTelegram, receive: FakeReceive, data: Any
) -> None:
    response = post(tg_app.test_client(), data)
    assert response.status_code == (400 if isinstance(data, list) else 200)
    assert receive.chats == [] and telegram.sent == []


# --- with the real inbound domain ----------------------------------------------------------------


def _rows(app: Any) -> tuple[list[InboundMessage], list[Handoff]]:
    with app.extensions["deflect"].database.session() as session:
        inbound_rows = list(session.scalars(select(InboundMessage)))
        handoffs = list(session.scalars(select(Handoff)))
        session.expunge_all()
        return inbound_rows, handoffs


def test_telegram_chat_is_stored_handed_off_and_acknowledged_once(
    tg_app: Any, telegram: FakeTelegram
) -> None:
    client = tg_app.test_client()
    assert post(client, update("/start K7XAMN", update_id=700001)).status_code == 200
    assert post(client, update("/start K7XAMN", update_id=700001)).status_code == 200  # Telegram's retry

    inbound_rows, handoffs = _rows(tg_app)
    assert [(r.message_id, r.channel, r.sender, r.body) for r in inbound_rows] == [
        ("tg:700001", "telegram", f"tg:{CHAT_ID}", "/start")
    ]
    assert len(handoffs) >= 1  # nobody is dropped: an unmatched chat is handed off too
    assert len(telegram.sent) == 1
    assert telegram.sent[0]["chat_id"] == CHAT_ID and telegram.sent[0]["text"]


def test_start_link_ties_the_telegram_chat_to_its_call(tg_app: Any, telegram: FakeTelegram) -> None:
    from tests.support.sessions import open_chat_session

    chat = open_chat_session(tg_app)
    response = post(tg_app.test_client(), update(f"/start {chat.link_token}", update_id=700002))

    assert response.status_code == 200
    (row,), handoffs = _rows(tg_app)
    assert (row.session_id, row.match, row.body) == (chat.id, "link", "/start")
    assert handoffs and handoffs[0].payload["story"]["reference"] == chat.reference
    [ack] = telegram.sent
    assert "Оператор Example Bank видит детали вашего звонка" in ack["text"]
    assert chat.reference not in ack["text"]  # echoed only to the caller's own number


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("/start K7XAMN", "K7XAMN"),
        ("/start@ExampleBankBot K7XAMN", "K7XAMN"),
        ("  /start   ref_12-ab  ", "ref_12-ab"),
        ("/start " + "a" * 64, "a" * 64),
        ("/start " + "a" * 65, None),
        ("/start", None),
        ("/start@ExampleBankBot", None),
        ("/start K7X AMN", None),
        ("/start K7X!AMN", None),
        ("/start К7ХАМН", None),  # Cyrillic look-alikes are not a deep-link payload
        ("/startK7XAMN", None),
        ("/Start K7XAMN", None),
        ("K7XAMN", None),
        ("/help K7XAMN", None),
        ("", None),
    ],
)
def test_start_payload(text: str, payload: str | None) -> None:
    assert start_payload(text) == payload


def test_update_is_read_into_a_message() -> None:
    assert parse_update(update("/start K7XAMN", update_id=7)) == TelegramMessage(
        update_id=7, chat_id=CHAT_ID, first_name="Анна", username="anna_k", text="/start K7XAMN"
    )


def test_photo_caption_is_the_text_and_missing_sender_fields_are_none() -> None:
    data = update("", caption="чек об оплате", photo=[{"file_id": "x"}])
    del data["message"]["text"]
    data["message"]["from"] = {"id": CHAT_ID, "is_bot": False}
    message = parse_update(data)
    assert message is not None
    assert (message.text, message.first_name, message.username) == ("чек об оплате", None, None)


# --- the Bot API client --------------------------------------------------------------------------


def test_bot_sends_message_and_returns_its_id(telegram: FakeTelegram) -> None:
    bot = TelegramBot(TOKEN, base_url=telegram.url)
    assert bot.send_message(CHAT_ID, "один") == 1
    assert bot.send_message(CHAT_ID, "два") == 2
    assert telegram.sent == [{"chat_id": CHAT_ID, "text": "один"}, {"chat_id": CHAT_ID, "text": "два"}]


def test_bot_with_wrong_token_gets_a_clear_error(telegram: FakeTelegram) -> None:
    with pytest.raises(TelegramError, match="HTTP 401.*Unauthorized") as excinfo:
        TelegramBot("999:wrong", base_url=telegram.url).send_message(CHAT_ID, "x")
    assert excinfo.value.status == 401 and excinfo.value.permanent
    assert "999:wrong" not in str(excinfo.value)


def test_unreachable_api_error_does_not_leak_the_token() -> None:
    from tests.support.prism import free_port

    bot = TelegramBot(TOKEN, base_url=f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(TelegramError) as excinfo:
        bot.send_message(CHAT_ID, "x")
    assert TOKEN not in str(excinfo.value) and excinfo.value.__cause__ is None
    assert not excinfo.value.permanent


def test_long_reply_is_cut_to_telegram_limit(telegram: FakeTelegram) -> None:
    TelegramBot(TOKEN, base_url=telegram.url).send_message(CHAT_ID, "я" * 5000)
    assert len(telegram.sent[0]["text"]) == 4096

"""The context card: one signed click shows an agent the call's story (and nothing more), in the call's
language; a forged link is a 404, an old one a 410, a database failure a 503, never a 500."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from gateway.clock import ManualClock
from gateway.deflection.chats import open_chat
from gateway.deflection.consent import ConsentGiven, record_consent
from gateway.handoff.card import (
    CardRef,
    build_card,
    card_url,
    format_local,
    read_card_token,
    shown_number,
)
from gateway.handoff.story import CallStory, story_of
from gateway.store.models import Call, Chat, InboundMessage

CALL_SID = "CA" + "7" * 32
NUMBER = "+79161234567"
PROMPT = "Нажмите 1, и мы пришлём ссылку в SMS, чтобы продолжить в WhatsApp."
CALLED_AT = datetime(2026, 11, 24, 9, 0, 5, tzinfo=UTC)  # 12:00 in Moscow
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
DOWN = "postgresql://nobody@127.0.0.1:1/none"
CHOICES = [
    {"step": "main", "digit": "2", "label": "Карты"},
    {"step": "cards", "digit": "1", "label": "Вопрос по карте"},
]


@pytest.fixture
def card_app(app: Any) -> Any:
    return app


@pytest.fixture
def web(card_app: Any) -> Any:
    return card_app.test_client()


def _chat(
    app: Any, *, locale: str = "ru-RU", flow_id: str = "ru-bank-support", with_call: bool = True
) -> int:
    """A caller who pressed 1 on hold: consent, the call row and the chat session, as the desk writes them."""
    with app.extensions["deflect"].database.session() as session:
        consent = record_consent(
            session,
            ConsentGiven(
                offer_key=f"{CALL_SID}:1",
                number=NUMBER,
                call_sid=CALL_SID,
                flow_id=flow_id,
                flow_version=1,
                prompt_version="ru-1",
                prompt_text=PROMPT,
                channel="sms",
                key_pressed="1",
            ),
            CALLED_AT + timedelta(minutes=6, seconds=20),
        )
        if with_call:
            session.add(
                Call(
                    call_sid=CALL_SID,
                    caller=NUMBER,
                    called="+74951234567",
                    flow_id=flow_id,
                    flow_version=1,
                    locale=locale,
                    started_at=CALLED_AT,
                    queue="bank-cards",
                )
            )
        row = open_chat(
            session,
            call_sid=CALL_SID,
            number=NUMBER,
            flow_id=flow_id,
            flow_version=1,
            locale=locale,
            queue="bank-cards",
            context={
                "menu_path": ["main", "cards"],
                "choices": CHOICES,
                "waited_seconds": 372,
                "position": 4,
                "consent_id": consent.id,
                "flow_id": flow_id,
            },
            channels=["whatsapp"],
            consent_id=consent.id,
            now=CALLED_AT + timedelta(minutes=6, seconds=20),
            lifetime=timedelta(hours=24),
        )
        return row.id


def _inbound(
    app: Any,
    session_id: int | None,
    *,
    sender: str = NUMBER,
    match: str = "reference",
    flagged: str | None = None,
) -> int:
    with app.extensions["deflect"].database.session() as session:
        message = InboundMessage(
            message_id="SM" + str(time.monotonic_ns())[-32:].rjust(32, "0"),
            channel="whatsapp",
            sender=sender,
            profile_name="Анна",
            body="Здравствуйте! Продолжаю обращение, номер K7XAMN",
            session_id=session_id,
            match=match,
            flagged=flagged,
            received_at=CALLED_AT + timedelta(minutes=8),
        )
        session.add(message)
        session.flush()
        return message.id


def _reference(app: Any, session_id: int) -> str:
    with app.extensions["deflect"].database.session() as session:
        row = session.get(Chat, session_id)
        assert row is not None
        return row.reference


def _path(app: Any, **ids: int) -> str:
    services = app.extensions["deflect"]
    url = card_url(
        "https://voice.example.test/", services.settings.secret_key, now=services.clock.time(), **ids
    )
    assert url.startswith("https://voice.example.test/card/")
    return url.removeprefix("https://voice.example.test")


def _assert_private(response: Any) -> None:
    for name, value in PRIVATE_HEADERS.items():
        assert response.headers[name] == value


def test_agent_sees_the_calls_story_in_russian_with_the_number_masked(card_app: Any, web: Any) -> None:
    session_id = _chat(card_app)
    _inbound(card_app, session_id)

    response = web.get(_path(card_app, session_id=session_id))

    assert response.status_code == 200
    _assert_private(response)
    html = response.get_data(as_text=True)
    assert _reference(card_app, session_id) in html
    assert "Карточка звонка" in html
    assert "bank-cards" in html
    assert "Карты → Вопрос по карте" in html
    assert "6 мин" in html
    assert "WhatsApp" in html
    assert "24 ноября 2026, 12:00 (Europe/Moscow)" in html
    assert "24 ноября 2026, 12:06 (Europe/Moscow), клавиша 1" in html
    assert "по номеру обращения" in html
    assert "+7 ••• ••• 45 67" in html
    for secret in (NUMBER, NUMBER[1:], "9161234567", CALL_SID, PROMPT):
        assert secret not in html


def test_card_json_carries_the_story_for_desks_that_render_it(card_app: Any, web: Any) -> None:
    session_id = _chat(card_app)
    _inbound(card_app, session_id)

    response = web.get(_path(card_app, session_id=session_id) + ".json")

    assert response.status_code == 200
    _assert_private(response)
    data = response.get_json()
    assert data["reference"] == _reference(card_app, session_id)
    assert data["queue"] == "bank-cards"
    assert data["menu_choices"] == ["Карты", "Вопрос по карте"]
    assert (data["waited_seconds"], data["minutes_waited"], data["position"]) == (372, 6, 4)
    assert data["channel"] == "whatsapp"
    assert data["called_at"] == "2026-11-24T09:00:05+00:00"
    assert data["consent"] == {"given": True, "at": "2026-11-24T09:06:25+00:00", "key": "1", "channel": "sms"}
    assert data["match"] == "reference" and data["flagged"] is None
    assert data["number_masked"] == "+7 ••• ••• 45 67"
    assert data["call_sid"] == CALL_SID
    assert NUMBER not in response.get_data(as_text=True)
    assert PROMPT not in response.get_data(as_text=True)


def test_english_flow_gets_english_labels_in_its_own_time_zone(card_app: Any, web: Any) -> None:
    session_id = _chat(card_app, locale="en-US", flow_id="en-support")

    html = web.get(_path(card_app, session_id=session_id)).get_data(as_text=True)

    assert "Call card" in html and "Waited on hold" in html and "6 min" in html
    assert "24 Nov 2026, 04:00 (America/New_York)" in html
    assert "Карточка" not in html


def test_reference_from_another_phone_is_flagged_for_the_agent(card_app: Any, web: Any) -> None:
    session_id = _chat(card_app)
    inbound_id = _inbound(card_app, session_id, sender="+79035550011", flagged="reference_from_other_number")

    html = web.get(_path(card_app, inbound_id=inbound_id)).get_data(as_text=True)

    assert _reference(card_app, session_id) in html
    assert "номер обращения прислан с другого телефона" in html
    assert "+7 ••• ••• 45 67" in html  # the call's number, to compare with the chat's


def test_chat_without_a_call_gets_a_card_too(card_app: Any, web: Any) -> None:
    inbound_id = _inbound(card_app, None, sender="+79035550011", match="unmatched")

    response = web.get(_path(card_app, inbound_id=inbound_id), headers={"Accept-Language": "ru"})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Чат без звонка" in html
    assert "+7 ••• ••• 00 11" in html and "+79035550011" not in html
    assert "не найден" in html


def test_session_card_before_any_chat_falls_back_to_the_offered_channel(card_app: Any, web: Any) -> None:
    session_id = _chat(card_app, with_call=False)

    data = web.get(_path(card_app, session_id=session_id) + ".json").get_json()

    assert data["channel"] == "whatsapp" and data["match"] is None
    assert data["called_at"] == "2026-11-24T09:06:25+00:00"  # no call row: when the session opened


@pytest.mark.parametrize("suffix", ["", ".json"])
def test_tampered_link_is_not_found(card_app: Any, web: Any, suffix: str) -> None:
    session_id = _chat(card_app)
    path = _path(card_app, session_id=session_id)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")

    response = web.get(tampered + suffix, headers={"Accept-Language": "en"})

    assert response.status_code == 404
    _assert_private(response)
    if suffix:
        assert response.get_json() == {"error": "invalid"}
    else:
        assert "This link is not valid" in response.get_data(as_text=True)
        assert _reference(card_app, session_id) not in response.get_data(as_text=True)


def test_link_signed_with_another_key_or_for_a_deleted_chat_is_not_found(card_app: Any, web: Any) -> None:
    forged = card_url(
        "", "another-secret-key-" + "y" * 32, now=card_app.extensions["deflect"].clock.time(), session_id=1
    )
    gone = _path(card_app, session_id=999_999)

    assert web.get(forged).status_code == 404
    assert web.get(gone).status_code == 404
    assert web.get(gone + ".json").get_json() == {"error": "missing"}
    assert web.get("/card/not-a-token").status_code == 404


def _signed_at(secret_key: str, at: float, data: dict[str, Any]) -> str:
    """Any data, signed as a card token at `at` (what a forger with the key could make)."""

    class SignedAt(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(at)

    return URLSafeTimedSerializer(secret_key, salt="context-card", signer=SignedAt).dumps(data)


def test_link_older_than_card_hours_has_expired(make_app: Any, clock: ManualClock) -> None:
    app = make_app(DEFLECT_CARD_HOURS="1")
    session_id = _chat(app)
    key = app.extensions["deflect"].settings.secret_key
    link = _path(app, session_id=session_id)
    web = app.test_client()

    clock.advance(0.9 * 3600)
    assert web.get(link).status_code == 200
    clock.advance(0.2 * 3600)
    response = web.get(link, headers={"Accept-Language": "ru"})
    assert response.status_code == 410
    _assert_private(response)
    assert "Ссылка устарела" in response.get_data(as_text=True)
    assert web.get(f"{link}.json").get_json() == {"error": "expired"}
    assert web.get(f"/card/{_signed_at(key, clock.time() + 600, {'s': session_id})}").status_code == 410


def test_read_card_token_refuses_forged_and_expired_tokens() -> None:
    key, now = "k" * 40, 1_800_000_000.0
    token = card_url("", key, now=now, session_id=5).removeprefix("/card/")

    assert read_card_token(key, token, 3600, now + 3599) == CardRef(session_id=5)
    assert read_card_token(key, token, 3600, now + 3601) is None
    assert read_card_token("other" * 8, token, 3600, now) is None
    assert read_card_token(key, _signed_at(key, now - 2 * 3600, {"s": 5}), 3600, now) is None
    assert read_card_token(key, _signed_at(key, now, {"x": 5}), 3600, now) is None
    assert read_card_token(key, _signed_at(key, now, {"s": True}), 3600, now) is None
    both = card_url("", key, now=now, session_id=5, inbound_id=9).removeprefix("/card/")
    assert read_card_token(key, both, 3600, now) == CardRef(session_id=5, inbound_id=9)
    with pytest.raises(ValueError):
        card_url("", key, now=now)


@pytest.mark.parametrize("suffix", ["", ".json"])
def test_database_down_gives_a_try_again_page(make_app: Any, suffix: str) -> None:
    down = make_app(DATABASE_URL=DOWN)
    path = _path(down, session_id=1)

    response = down.test_client().get(path + suffix, headers={"Accept-Language": "en"})

    assert response.status_code == 503
    _assert_private(response)
    assert response.headers["Retry-After"] == "60"
    if suffix:
        assert response.get_json() == {"error": "unavailable"}
    else:
        assert "try again in a minute" in response.get_data(as_text=True)


def test_a_bug_still_gives_the_try_again_page_not_a_500(card_app: Any, web: Any) -> None:
    path = _path(card_app, session_id=_chat(card_app))
    card_app.extensions["deflect"].settings = None  # a wiring mistake

    response = web.get(path)

    assert response.status_code == 503
    _assert_private(response)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+79161234567", "+7 ••• ••• 45 67"),
        ("whatsapp:+79161234567", "+7 ••• ••• 45 67"),
        ("+14155550123", "+1 ••• ••• 01 23"),
        ("+442071838750", "+44 ••• ••• 87 50"),
        ("+3725551234", "+372 ••• 12 34"),
        ("tg:123456789", "Telegram •••6789"),
        (None, None),
    ],
)
def test_number_is_masked_to_its_last_four_digits(number: str | None, masked: str | None) -> None:
    assert shown_number(number) == masked


def test_card_from_a_story_alone() -> None:
    story = CallStory(
        reference="K7XAMN",
        call_sid=CALL_SID,
        caller=NUMBER,
        flow_id="ru-bank-support",
        locale="ru-RU",
        queue="bank-cards",
        menu_choices=["Карты"],
        waited_seconds=89,
        called_at="2026-11-24T09:00:05+00:00",
    )

    card = build_card(story, time_zone="Europe/Moscow", channel="whatsapp", match="number")

    assert card.language == "ru" and card.minutes_waited == 1
    assert card.called_at_local == "24 ноября 2026, 12:00 (Europe/Moscow)"
    assert card.to_json()["number_masked"] == "+7 ••• ••• 45 67"
    assert format_local(CALLED_AT, "Not/AZone", "en") == "24 Nov 2026, 09:00 (UTC)"


def test_story_from_session_reads_the_menu_labels() -> None:
    row = Chat(
        reference="K7XAMN",
        call_sid=CALL_SID,
        number=NUMBER,
        flow_id="ru-bank-support",
        flow_version=1,
        locale="ru-RU",
        queue="bank-cards",
        consent_id=3,
        context={"choices": [*CHOICES, {"step": "x", "digit": "9"}], "waited_seconds": 372},
        created_at=CALLED_AT,
    )

    story = story_of(row)

    assert story.menu_choices == ["Карты", "Вопрос по карте", "9"]
    assert story.called_at == "2026-11-24T09:00:05+00:00"

"""An accepted offer, as the voice side leaves it: consent, a chat session with a reference, an outbox row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from gateway.deflection.accept import Acceptance, MessageSetup, accept_offer
from gateway.deflection.consent import ConsentGiven
from gateway.deflection.story import CallContext
from gateway.store.models import Chat, SmsOutbox

BASE = "https://voice.example.test"


def open_chat_session(app: Any, number: str = "+79161234567", call: str = "1") -> Chat:
    """What an accepted offer leaves behind: consent, a session with a reference, an outbox row."""
    services = app.extensions["deflect"]
    call_sid = "CA" + call * 32
    consent = ConsentGiven(
        offer_key=f"{call_sid}:1",
        number=number,
        call_sid=call_sid,
        flow_id="ru-bank-support",
        flow_version=1,
        prompt_version="ru-consent-v1",
        prompt_text="Согласны?",
        channel="sms",
        key_pressed="1",
    )
    setup = MessageSetup(
        accounts=services.accounts,
        brand="Example Bank",
        link_mode="short",
        link_base=BASE,
        session_lifetime=timedelta(hours=24),
    )
    context = CallContext(
        call_sid=call_sid,
        caller=number,
        called="+74952223344",
        flow_id="ru-bank-support",
        flow_version=1,
        locale="ru-RU",
        queue="bank-cards",
        menu_path=["main_menu", "cards_menu"],
        choices=[
            {"step": "main_menu", "digit": "1", "label": "Карты"},
            {"step": "cards_menu", "digit": "2", "label": "Вопрос по карте"},
        ],
        waited_seconds=370,
        position=4,
    )
    accept_offer(
        services.database,
        Acceptance(
            offer_key=f"{call_sid}:1",
            consent=consent,
            locale="ru-RU",
            queue="bank-cards",
            context=context,
            channels=["whatsapp"],
            sms_template="whatsapp_link",
        ),
        setup,
        services.registry.templates(),
        services.clock.now(),
    )
    with services.database.session() as session:
        row = session.scalars(select(Chat).where(Chat.call_sid == call_sid)).one()
        session.expunge(row)
        return row


def outbox_id_of(app: Any, chat: Chat) -> int:
    with app.extensions["deflect"].database.session() as session:
        return int(session.scalars(select(SmsOutbox.id).where(SmsOutbox.session_id == chat.id)).one())

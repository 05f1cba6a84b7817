"""Where the chat is matched: an inbound chat message (WhatsApp, SMS, Telegram) is stored once, tied to
its call, acknowledged once, and queued for hand-off to the agents with the call's story.

Idempotent on the channel's message id (Twilio and Telegram retry webhooks): a repeat is recognised by
a unique constraint, not by hope. The first message of a chat hands it off; later ones only count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.deflection import opt_out
from gateway.deflection.prompts import language_of
from gateway.flows.state import Event
from gateway.handoff.dispatch import HandoffRouter, build_payload
from gateway.handoff.matching import Match, match_chat
from gateway.phone import parse_number
from gateway.store.call_log import CallLog
from gateway.store.models import Handoff, InboundMessage

log = logging.getLogger(__name__)

UNMATCHED_REPLY = {
    "ru": "Спасибо за сообщение! Оператор ответит здесь в ближайшее время.",
    "en": "Thank you for your message! An agent will reply here shortly.",
}
# An unmatched sender is handed off once a day, not once per message.
UNMATCHED_HANDOFF_EVERY = timedelta(hours=24)


@dataclass(frozen=True)
class InboundChat:
    message_id: str  # MessageSid, or tg:<update_id>
    channel: str  # whatsapp | sms | telegram | viber
    sender: str  # whatsapp:+7..., +7..., tg:<chat id>
    body: str
    profile_name: str | None = None
    media: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundResult:
    duplicate: bool
    reply: str | None
    session_id: int | None
    match: str


def receive(svc: Any, chat: InboundChat, now: datetime) -> InboundResult:
    """Store, match, acknowledge and queue the hand-off of one inbound chat message."""
    number = parse_number(chat.sender)
    e164 = number.e164 if number else None
    if e164 is not None and opt_out.is_stop(chat.body):
        return _stop(svc, chat, e164, now)
    router: HandoffRouter = svc.extra["handoff_router"]
    try:
        with svc.database.session() as session:
            if session.scalar(select(InboundMessage.id).where(InboundMessage.message_id == chat.message_id)):
                return InboundResult(True, None, None, "duplicate")
            match = match_chat(session, chat.body, e164, now, sender=chat.sender)
            row = InboundMessage(
                message_id=chat.message_id,
                channel=chat.channel,
                sender=chat.sender,
                profile_name=chat.profile_name,
                body=chat.body,
                media=chat.media,
                session_id=match.session.id if match.session else None,
                match=match.how,
                flagged=match.flagged,
                received_at=now,
            )
            session.add(row)
            session.flush()
            handoffs = _hand_off_if_first(session, svc, router, row, match, now)
            reply = _reply(svc, match, chat) if handoffs else None
            result = InboundResult(False, reply, row.session_id, match.how)
            call_sid = match.session.call_sid if match.session else None
    except IntegrityError:  # the same message delivered twice at once: the other one is handling it
        return InboundResult(True, None, None, "duplicate")
    _record(svc, call_sid, chat, match, bool(handoffs), now)
    for handoff_id in handoffs:
        svc.extra["enqueue_handoff"](handoff_id)
    return result


def _hand_off_if_first(
    session: Session, svc: Any, router: HandoffRouter, row: InboundMessage, match: Match, now: datetime
) -> list[int]:
    chat = match.session
    if chat is not None:
        if chat.state not in ("created", "link_clicked"):
            return []  # already handed off: the conversation goes on in the agents' platform
        chat.state = "chat_started"
    elif _recently_handed_off(session, row.sender, now):
        return []
    payload_base = build_payload(svc, session, row, chat)
    ids = []
    for adapter in router.adapters_for(chat, row.channel):
        handoff = Handoff(
            inbound_id=row.id,
            session_id=row.session_id,
            adapter=adapter,
            status="pending",
            payload={},
            created_at=now,
            updated_at=now,
        )
        session.add(handoff)
        session.flush()
        handoff.payload = payload_base(handoff.id)
        ids.append(handoff.id)
    return ids


def _recently_handed_off(session: Session, sender: str, now: datetime) -> bool:
    since = now - UNMATCHED_HANDOFF_EVERY
    return bool(
        session.scalar(
            select(func.count(Handoff.id))
            .join(InboundMessage, InboundMessage.id == Handoff.inbound_id)
            .where(
                InboundMessage.sender == sender,
                InboundMessage.session_id.is_(None),
                Handoff.created_at > since,
            )
        )
    )


def _reply(svc: Any, match: Match, chat: InboundChat) -> str:
    """The acknowledgement, sent once per chat: the agent has the call's details."""
    templates = svc.extra["templates"]
    if match.session is not None:
        locale = match.session.locale
        if (locale, "chat_ack") in templates:
            return str(
                templates.render(
                    locale,
                    "chat_ack",
                    reference=match.session.reference,
                    brand=svc.settings.deflect_brand,
                    link="",
                    queue=match.session.queue or "",
                ).body
            )
    return UNMATCHED_REPLY[language_of(chat.body)]


def _record(
    svc: Any, call_sid: str | None, chat: InboundChat, match: Match, handed: bool, now: datetime
) -> None:
    events = [
        Event(
            "chat.message",
            {"channel": chat.channel, "match": match.how, "flagged": match.flagged, "first": handed},
        )
    ]
    if handed and match.session is not None:
        events.insert(
            0, Event("chat.started", {"channel": chat.channel, "match": match.how, "flagged": match.flagged})
        )
    # An unmatched chat has no call: its events are kept under the message id, so reports count it.
    CallLog(svc.database, svc.redis).record(call_sid or chat.message_id[:34], events, now.timestamp())


def _stop(svc: Any, chat: InboundChat, number: str, now: datetime) -> InboundResult:
    with svc.database.session() as session:
        if session.scalar(select(InboundMessage.id).where(InboundMessage.message_id == chat.message_id)):
            return InboundResult(True, None, None, "duplicate")
        session.add(
            InboundMessage(
                message_id=chat.message_id,
                channel=chat.channel,
                sender=chat.sender,
                profile_name=chat.profile_name,
                body=chat.body,
                media=chat.media,
                session_id=None,
                match="stop",
                flagged=None,
                received_at=now,
            )
        )
    opt_out.opt_out(svc.database, number, chat.channel, now, chat.body)
    return InboundResult(False, opt_out.acknowledgement(chat.body), None, "stop")

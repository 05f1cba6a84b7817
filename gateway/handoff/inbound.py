"""Where the chat is matched: an inbound chat message (WhatsApp, SMS, Telegram, Viber) is stored once,
tied to its call (`gateway.handoff.matching`), acknowledged once, and queued for hand-off to the agents
with the call's story.

Idempotent on the channel's message id (Twilio and Telegram retry webhooks): a repeat is recognised by
a unique constraint, not by hope. The first message of a chat hands it off; later ones only count.
The acknowledgement names the reference only to the caller's own number. A WhatsApp or SMS message
without a sender number is refused: stored, but neither matched nor handed off (no agent platform
could answer it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.deflection import opt_out
from gateway.events import Event, EventRecorder
from gateway.handoff.card import CardLinks
from gateway.handoff.dispatch import HandoffRouter, build_payload
from gateway.handoff.matching import TOO_MANY_FAILED_LOOKUPS, Lookups, Match, match_chat
from gateway.locales import text_language
from gateway.messaging.templates import TemplateSet
from gateway.phone import parse_number
from gateway.store.db import Database
from gateway.store.models import Handoff, InboundMessage

log = logging.getLogger(__name__)

UNMATCHED_REPLY = {
    "ru": "Спасибо за сообщение! Оператор ответит здесь в ближайшее время.",
    "en": "Thank you for your message! An agent will reply here shortly.",
}
# An unmatched sender is handed off once a day, not once per message.
UNMATCHED_HANDOFF_EVERY = timedelta(hours=24)
# Channels whose sender is a phone number (Twilio's From); without one a chat cannot be answered.
NUMBER_CHANNELS = frozenset({"whatsapp", "sms"})
NO_SENDER_NUMBER = "no_sender_number"


@dataclass(frozen=True)
class InboundChat:
    message_id: str  # MessageSid, or tg:<update_id>
    channel: str  # whatsapp | sms | telegram | viber
    sender: str  # whatsapp:+7..., +7..., tg:<chat id>
    body: str
    profile_name: str | None = None
    media: dict[str, Any] = field(default_factory=dict)
    link_token: str | None = None  # the deep link's payload: Telegram /start, Viber context

    @classmethod
    def from_twilio(cls, form: Mapping[str, str]) -> InboundChat:
        """An SMS or WhatsApp message as Twilio's inbound webhook posts it."""
        sender = form.get("From", "")
        count = int(form.get("NumMedia", "0")) if form.get("NumMedia", "0").isdigit() else 0
        media = [
            {"url": form.get(f"MediaUrl{i}"), "type": form.get(f"MediaContentType{i}")}
            for i in range(min(count, 10))  # Twilio sends at most 10
        ]
        return cls(
            message_id=form.get("MessageSid", ""),
            channel="whatsapp" if sender.startswith("whatsapp:") else "sms",
            sender=sender,
            body=form.get("Body", ""),
            profile_name=form.get("ProfileName") or None,
            media={"items": media} if media else {},
        )


@dataclass(frozen=True)
class InboundResult:
    duplicate: bool
    reply: str | None
    session_id: int | None
    match: str
    refused: str | None = None  # why the message was stored but not taken (e.g. no_sender_number)


@dataclass(frozen=True)
class Acknowledgement:
    """The one reply a chat gets: the `chat_ack` text of the call's locale, else a plain thank-you."""

    templates: Callable[[], TemplateSet]  # the live texts
    brand: str

    def text(self, match: Match, chat: InboundChat, number: str | None) -> str:
        """It names the reference only to the caller's own number: anyone else (a Telegram or Viber
        chat, even one opened by the caller's link) could be fishing for it."""
        if match.session is not None:
            locale = match.session.locale
            own_number = number is not None and number == match.session.number
            templates = self.templates()
            if (locale, "chat_ack") in templates:
                return templates.render(
                    locale,
                    "chat_ack",
                    reference=match.session.reference if own_number else "",
                    brand=self.brand,
                    link="",
                    queue=match.session.queue or "",
                ).body
        return UNMATCHED_REPLY[text_language(chat.body)]


class InboundChats:
    """Receives every inbound chat message of this installation (`receive`), with what it needs."""

    def __init__(
        self,
        database: Database,
        call_log: EventRecorder,
        router: HandoffRouter,
        lookups: Lookups,
        acknowledgement: Acknowledgement,
        cards: CardLinks,
        enqueue_handoff: Callable[[int], None],
    ) -> None:
        self.database = database
        self.call_log = call_log
        self.router = router
        self.lookups = lookups
        self.acknowledgement = acknowledgement
        self.cards = cards
        self.enqueue_handoff = enqueue_handoff

    def receive(self, chat: InboundChat, now: datetime) -> InboundResult:
        """Store, match, acknowledge and queue the hand-off of one inbound chat message."""
        number = parse_number(chat.sender)
        e164 = number.e164 if number else None
        if e164 is None and chat.channel in NUMBER_CHANNELS:
            return self._refuse(chat, NO_SENDER_NUMBER, now)
        if e164 is not None and opt_out.is_stop(chat.body):
            return self._stop(chat, e164, now)
        try:
            with self.database.session() as session:
                if session.scalar(
                    select(InboundMessage.id).where(InboundMessage.message_id == chat.message_id)
                ):
                    return InboundResult(True, None, None, "duplicate")
                match = match_chat(
                    session,
                    chat.body,
                    e164,
                    now,
                    sender=chat.sender,
                    lookups=self.lookups,
                    link_token=chat.link_token,
                )
                row = _message_row(
                    chat, match.session.id if match.session else None, match.how, match.flagged, now
                )
                session.add(row)
                session.flush()
                handoffs = self._hand_off_if_first(session, row, match, now)
                reply = self.acknowledgement.text(match, chat, e164) if handoffs else None
                result = InboundResult(False, reply, row.session_id, match.how)
                call_sid = match.session.call_sid if match.session else None
                quoted_call_sid = match.quoted.call_sid if match.quoted else None
        except IntegrityError:  # the same message delivered twice at once: the other one is handling it
            return InboundResult(True, None, None, "duplicate")
        self._record(call_sid, chat, match, bool(handoffs), now)
        if quoted_call_sid is not None:
            # The call whose reference someone else sent keeps a trace of it (its chat was not taken).
            self.call_log.record(
                quoted_call_sid,
                [Event("chat.reference_quoted", {"channel": chat.channel, "flagged": match.flagged})],
                now.timestamp(),
            )
        for handoff_id in handoffs:
            self.enqueue_handoff(handoff_id)
        return result

    def _hand_off_if_first(
        self, session: Session, row: InboundMessage, match: Match, now: datetime
    ) -> list[int]:
        chat = match.session
        if chat is not None:
            if chat.state not in ("created", "link_clicked"):
                return []  # already handed off: the conversation goes on in the agents' platform
            chat.state = "chat_started"
        elif _recently_handed_off(session, row.sender, now):
            return []
        payload_base = build_payload(self.cards, session, row, chat)
        ids = []
        for adapter in self.router.adapters_for(chat, row.channel):
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

    def _record(
        self, call_sid: str | None, chat: InboundChat, match: Match, handed: bool, now: datetime
    ) -> None:
        what = {"channel": chat.channel, "match": match.how, "flagged": match.flagged}
        events = [Event("chat.message", {**what, "first": handed})]
        if handed and match.session is not None:
            events.insert(0, Event("chat.started", what))
        if match.flagged == TOO_MANY_FAILED_LOOKUPS:
            events.append(Event("chat.lookups_limited", {"channel": chat.channel}))
        if call_sid is not None:
            self.call_log.record(call_sid, events, now.timestamp())
        else:  # An unmatched chat has no call: its events are kept under its message, so reports count it.
            self.call_log.record_message(chat.message_id, events, now.timestamp())

    def _stop(self, chat: InboundChat, number: str, now: datetime) -> InboundResult:
        if not self._store_alone(chat, "stop", None, now):
            return InboundResult(True, None, None, "duplicate")
        opt_out.opt_out(self.database, number, chat.channel, now, chat.body)
        return InboundResult(False, opt_out.acknowledgement(chat.body), None, "stop")

    def _refuse(self, chat: InboundChat, reason: str, now: datetime) -> InboundResult:
        """Kept for the record, neither matched nor handed off (and no reply: there is nobody to send
        it to)."""
        if not self._store_alone(chat, "refused", reason, now):
            return InboundResult(True, None, None, "duplicate")
        log.warning("inbound %s message %s refused: %s", chat.channel, chat.message_id, reason)
        self.call_log.record_message(
            chat.message_id,
            [Event("chat.refused", {"channel": chat.channel, "reason": reason})],
            now.timestamp(),
        )
        return InboundResult(False, None, None, "refused", refused=reason)

    def _store_alone(self, chat: InboundChat, match: str, flagged: str | None, now: datetime) -> bool:
        """Store a message that joins no call; False when it was stored before (a retried webhook)."""
        with self.database.session() as session:
            if session.scalar(select(InboundMessage.id).where(InboundMessage.message_id == chat.message_id)):
                return False
            session.add(_message_row(chat, None, match, flagged, now))
        return True


def _message_row(
    chat: InboundChat, chat_id: int | None, match: str, flagged: str | None, now: datetime
) -> InboundMessage:
    """The stored message: what came, and how it found (or did not find) its chat."""
    return InboundMessage(
        message_id=chat.message_id,
        channel=chat.channel,
        sender=chat.sender,
        profile_name=chat.profile_name,
        body=chat.body,
        media=chat.media,
        session_id=chat_id,
        match=match,
        flagged=flagged,
        received_at=now,
    )


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

"""Which call does this chat belong to? The one reference where our texts put it (tolerant of case,
spaces and the customer editing the rest: `find_reference`), then the sender's number against live
sessions. A message is looked up for one reference at most, never for every reference-shaped word."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.deflection.reference import find_reference
from gateway.deflection.sessions import LIVE_STATES, is_live
from gateway.store.models import ChatSession, InboundMessage


@dataclass(frozen=True)
class Match:
    session: ChatSession | None
    how: str  # reference | number | unmatched | expired
    flagged: str | None = None


def match_chat(session: Session, text: str, number: str | None, now: datetime, sender: str = "") -> Match:
    """`number` is the sender's E.164 (None for Telegram, Viber...); `sender` the channel address, which
    ties a follow-up without the reference to the call its first message found."""
    expired: ChatSession | None = None
    reference = find_reference(text)
    row = session.scalar(select(ChatSession).where(ChatSession.reference == reference)) if reference else None
    if row is not None and not is_live(row, now):
        expired, row = row, None
    if row is not None:
        # A reference typed from another phone is still this call's chat, but the agent should know.
        flagged = "reference_from_other_number" if number is not None and number != row.number else None
        return Match(row, "reference", flagged)
    if number is not None:
        row = session.scalar(
            select(ChatSession)
            .where(
                ChatSession.number == number, ChatSession.state.in_(LIVE_STATES), ChatSession.expires_at > now
            )
            .order_by(ChatSession.created_at.desc())
            .limit(1)
        )
        if row is not None:
            return Match(row, "number")
    if sender:
        row = session.scalar(
            select(ChatSession)
            .join(InboundMessage, InboundMessage.session_id == ChatSession.id)
            .where(
                InboundMessage.sender == sender,
                ChatSession.state.in_(LIVE_STATES),
                ChatSession.expires_at > now,
            )
            .order_by(InboundMessage.id.desc())
            .limit(1)
        )
        if row is not None:
            return Match(row, "sender")
    if expired is not None:
        return Match(None, "expired", "reference_expired")
    return Match(None, "unmatched")

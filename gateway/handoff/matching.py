"""Which call does this chat belong to? One lookup at most per message, then the sender's own ties.

- The link token a Telegram `/start` or a Viber `conversation_started` carries (it came in the SMS only
  the caller's phone received): the exact payload, and it takes the session.
- Else the one reference where our texts put it (`find_reference`). It takes the session only when it
  comes from the caller's own number. From another number, or from a chat without one (Telegram and
  Viber text), it is handed off as its own flagged chat, without the call's story; the session stays
  for the caller.
- Else the sender's number against live chats, then an earlier message of the same sender that
  found a call (`sender`: how a Telegram or Viber chat keeps its call).

A lookup that did not give its sender the session counts against the sender (`Lookups`); a sender at
the limit is not matched at all, whatever the message carries, until the window passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.deflection.chats import LIVE_STATES, is_live
from gateway.deflection.reference import find_reference, is_reference
from gateway.store.models import Chat, InboundMessage

# Flags the agent (and reports) see on a chat; `card_views.LABELS` says each in words.
REFERENCE_FROM_OTHER_NUMBER = "reference_from_other_number"
REFERENCE_WITHOUT_NUMBER = "reference_without_number"
REFERENCE_EXPIRED = "reference_expired"
LINK_EXPIRED = "link_expired"
TOO_MANY_FAILED_LOOKUPS = "too_many_failed_lookups"

# What Telegram allows in a start payload; a Viber context may be anything, and is not looked up then.
_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Lookups(Protocol):
    """Failed lookups per sender (`gateway.handoff.lookups.LookupLimiter`)."""

    def limited(self, sender: str, now: datetime) -> bool: ...

    def failed(self, sender: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class Match:
    session: Chat | None
    how: str  # link | reference | number | sender | unmatched | expired
    flagged: str | None = None
    # A live session whose reference this chat quoted without being its caller: not taken, only noted.
    quoted: Chat | None = None


def match_chat(
    session: Session,
    text: str,
    number: str | None,
    now: datetime,
    *,
    sender: str,
    lookups: Lookups,
    link_token: str | None = None,
) -> Match:
    """`number` is the sender's E.164 (None for Telegram, Viber...); `sender` the channel address;
    `link_token` the deep link's payload, when the chat was opened by one."""
    if lookups.limited(sender, now):
        return Match(None, "unmatched", TOO_MANY_FAILED_LOOKUPS)
    how, row = _look_up(session, text, link_token)
    match = _choose(session, how, row, number, sender, now)
    if how is not None and (row is None or match.session is None or match.session.id != row.id):
        lookups.failed(sender, now)
    return match


def _look_up(session: Session, text: str, link_token: str | None) -> tuple[str | None, Chat | None]:
    """The one lookup a message gets: ("link" or "reference", the row found), or (None, None)."""
    if link_token is not None:
        if is_reference(link_token):
            # A link sent before links carried the token: read like a reference typed without a number.
            return "reference", _by_reference(session, link_token)
        if not _LINK_TOKEN.fullmatch(link_token):
            return "link", None
        return "link", session.scalar(select(Chat).where(Chat.link_token == link_token))
    reference = find_reference(text)
    if reference is None:
        return None, None
    return "reference", _by_reference(session, reference)


def _choose(
    session: Session, how: str | None, row: Chat | None, number: str | None, sender: str, now: datetime
) -> Match:
    live = row is not None and is_live(row, now)
    if how is not None and row is not None and live and (how == "link" or number == row.number):
        return Match(row, how)
    quoted = row if live else None
    flag = None if quoted is None else REFERENCE_FROM_OTHER_NUMBER if number else REFERENCE_WITHOUT_NUMBER
    own, how_own = (_by_number(session, number, now) if number is not None else None), "number"
    if own is None and sender:
        own, how_own = _by_sender(session, sender, now), "sender"
    if own is not None:
        if quoted is not None and quoted.id == own.id:
            return Match(own, how_own)
        return Match(own, how_own, flag, quoted)
    if quoted is not None:
        return Match(None, "unmatched", flag, quoted)
    if row is not None:
        return Match(None, "expired", LINK_EXPIRED if how == "link" else REFERENCE_EXPIRED)
    return Match(None, "unmatched")


def _by_reference(session: Session, reference: str) -> Chat | None:
    return session.scalar(select(Chat).where(Chat.reference == reference))


def _by_number(session: Session, number: str, now: datetime) -> Chat | None:
    return session.scalar(
        select(Chat)
        .where(Chat.number == number, Chat.state.in_(LIVE_STATES), Chat.expires_at > now)
        .order_by(Chat.created_at.desc())
        .limit(1)
    )


def _by_sender(session: Session, sender: str, now: datetime) -> Chat | None:
    return session.scalar(
        select(Chat)
        .join(InboundMessage, InboundMessage.session_id == Chat.id)
        .where(
            InboundMessage.sender == sender,
            Chat.state.in_(LIVE_STATES),
            Chat.expires_at > now,
        )
        .order_by(InboundMessage.id.desc())
        .limit(1)
    )

"""Agents find a chat's context card: by its reference (what the customer's first message carries), or
by the last four digits of the number among the recent chats (the customer says them on the phone).

A card link is a bearer key to the call's story, so this is where it is handed out, to a signed-in
agent, and never logged: every look-up and every link is written to the audit log (who looked up
what), and each agent has a budget of look-ups per window (`LookupLimiter`, as for chat senders), so
nobody pages through every caller by trying digits. A list of matches shows numbers masked to their
last four digits; a link is given for one chat at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select

from gateway.clock import Clock
from gateway.deflection.reference import find_reference
from gateway.handoff.card import CardLinks, shown_number
from gateway.handoff.lookups import LookupLimiter
from gateway.store.content import AuditWriter, Change
from gateway.store.db import Database
from gateway.store.models import Chat

AGENT_LOOKUPS = 30  # look-ups (searches and links) per agent per window
AGENT_WINDOW_SECONDS = 600
RECENT = timedelta(hours=24)  # the last four digits find the chats of this long ago at most
MAX_MATCHES = 20
_NOT_DIGITS = re.compile(r"[\s*•.()\-]")

Outcome = Literal["found", "none", "invalid", "limited"]


@dataclass(frozen=True)
class FoundChat:
    session_id: int
    reference: str
    number_shown: str  # `+7 ••• ••• 45 67`: the last four digits only
    created_at: datetime
    queue: str | None
    state: str
    channels: list[str] = field(default_factory=list)  # the messengers offered


@dataclass(frozen=True)
class ChatSearch:
    outcome: Outcome
    by: Literal["reference", "digits"] | None = None
    chats: list[FoundChat] = field(default_factory=list)
    card_url: str | None = None  # a reference names one chat: its card link comes with it


@dataclass(frozen=True)
class CardLink:
    outcome: Outcome
    chat: FoundChat | None = None
    url: str | None = None


def read_query(text: str) -> tuple[Literal["reference", "digits"], str] | None:
    """("digits", "4567") for four digits (spaces, dots or a mask before them allowed), ("reference",
    "K7XAMN") for a reference as a customer or an agent may type it, else None."""
    bare = _NOT_DIGITS.sub("", text)
    if len(bare) == 4 and bare.isascii() and bare.isdigit():
        return "digits", bare
    reference = find_reference(text)
    return ("reference", reference) if reference is not None else None


class ChatFinder:
    def __init__(
        self,
        database: Database,
        limiter: LookupLimiter,
        cards: CardLinks,
        audit: AuditWriter,
        clock: Clock,
    ) -> None:
        self.database = database
        self.limiter = limiter
        self.cards = cards
        self.audit = audit
        self.clock = clock

    def find(self, query: str, *, actor: str, who: str) -> ChatSearch:
        """The chats `query` names (see `read_query`), with the card link when it is a reference; `who`
        is the agent's key for the limit."""
        parsed = read_query(query[:64])
        if parsed is None:
            return ChatSearch("invalid")
        by, value = parsed
        subject = f"chat:{value}" if by == "reference" else f"chats:*{value}"
        now = self.clock.now()
        if not self._allowed(who, now, actor, subject):
            return ChatSearch("limited", by)
        with self.database.session() as session:
            if by == "reference":
                rows = list(session.scalars(select(Chat).where(Chat.reference == value)))
            else:
                rows = list(
                    session.scalars(
                        select(Chat)
                        .where(Chat.created_at >= now - RECENT, Chat.number.like(f"%{value}"))
                        .order_by(Chat.id.desc())
                        .limit(MAX_MATCHES)
                    )
                )
            chats = [_found(row) for row in rows]
        self.audit.record(Change(actor, "chat.looked_up", subject, detail={"found": len(chats)}), now)
        if by == "reference" and chats:
            url = self.cards.url(session_id=chats[0].session_id)
            self.audit.record(Change(actor, "chat.card_issued", subject), now)
            return ChatSearch("found", by, chats, url)
        return ChatSearch("found" if chats else "none", by, chats)

    def card(self, session_id: int, *, actor: str, who: str) -> CardLink:
        """The card link of one of the recent chats a search by digits listed."""
        now = self.clock.now()
        with self.database.session() as session:
            row = session.get(Chat, session_id)
            chat = _found(row) if row is not None else None
        if chat is None or chat.created_at < now - RECENT:
            return CardLink("none")
        if not self._allowed(who, now, actor, f"chat:{chat.reference}"):
            return CardLink("limited", chat)
        url = self.cards.url(session_id=chat.session_id)
        self.audit.record(Change(actor, "chat.card_issued", f"chat:{chat.reference}"), now)
        return CardLink("found", chat, url)

    def _allowed(self, who: str, now: datetime, actor: str, subject: str) -> bool:
        if self.limiter.limited(who, now):
            self.audit.record(Change(actor, "chat.lookup_limited", subject), now)
            return False
        self.limiter.count(who, now)
        return True


def _found(row: Chat) -> FoundChat:
    return FoundChat(
        session_id=row.id,
        reference=row.reference,
        number_shown=shown_number(row.number) or "",
        created_at=row.created_at,
        queue=row.queue,
        state=row.state,
        channels=list((row.channels or {}).get("offered") or []),
    )

"""Hand-off delivery: which adapters a chat goes to (per queue or flow), the payload they receive, and
one delivery attempt with its bookkeeping (delivered, retry later, or dead letter)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gateway.handoff.base import Delivered, HandoffAdapter, HandoffError, HandoffPayload
from gateway.handoff.card import CardLinks
from gateway.handoff.story import NO_CALL, CallStory, call_started_at, story_of
from gateway.store.db import Database
from gateway.store.models import Chat, Handoff, InboundMessage

log = logging.getLogger(__name__)

CONVERSATIONS_CHANNELS = frozenset({"whatsapp", "sms"})
MAX_ATTEMPTS = 6  # then the hand-off is a dead letter, listed and replayed by `deflect handoff`


@dataclass(frozen=True)
class HandoffRouter:
    """Adapters by queue or flow id (`DEFLECT_HANDOFF_ROUTES`), else the default list."""

    default: tuple[str, ...]
    routes: Mapping[str, tuple[str, ...]]

    def adapters_for(self, chat: Chat | None, channel: str) -> tuple[str, ...]:
        chosen = self.default
        if chat is not None:
            for key in (chat.queue, chat.flow_id):
                if key and key in self.routes:
                    chosen = self.routes[key]
                    break
        if channel not in CONVERSATIONS_CHANNELS:
            # Conversations carries WhatsApp and SMS only; a Telegram chat still gets the card.
            chosen = tuple(a for a in chosen if a != "conversations") or ("card",)
        return chosen


class CardOnlyAdapter:
    """No desk integration: the context card link is the hand-off. The link is a bearer key to the call's
    story, so it is not logged: `deflect handoff card <id>` prints it for the agent."""

    name = "card"

    def deliver(self, payload: HandoffPayload) -> Delivered:
        log.info(
            "chat %s ready for an agent: hand-off %d (its card: deflect handoff card %d)",
            payload.message_id,
            payload.handoff_id,
            payload.handoff_id,
        )
        return Delivered()


def build_payload(
    cards: CardLinks, session: Any, inbound: InboundMessage, chat: Chat | None
) -> Callable[[int], dict[str, Any]]:
    """The payload as JSON for each hand-off row (the row id is part of it)."""
    story = NO_CALL if chat is None else story_of(chat, call_started_at(session, chat))
    card = cards.url(session_id=chat.id if chat else None, inbound_id=inbound.id)

    def payload(handoff_id: int) -> dict[str, Any]:
        return HandoffPayload(
            handoff_id=handoff_id,
            session_id=chat.id if chat else None,
            channel=inbound.channel,
            customer_address=inbound.sender,
            customer_name=inbound.profile_name,
            first_message=inbound.body,
            message_id=inbound.message_id,
            match=inbound.match,
            flagged=inbound.flagged,
            story=story,
            context_card_url=card,
        ).to_json()

    return payload


def payload_from_json(data: Mapping[str, Any]) -> HandoffPayload:
    return HandoffPayload(**{**data, "story": CallStory(**data["story"])})


class RetryLater(RuntimeError):
    """A transient failure: the job raises it so RQ retries with backoff."""


def deliver(
    database: Database, adapters: Mapping[str, HandoffAdapter], handoff_id: int, now: datetime
) -> str:
    """One attempt; returns the row's status. Raises RetryLater while attempts remain."""
    with database.session() as session:
        row = session.get(Handoff, handoff_id)
        if row is None or row.status == "delivered":
            return row.status if row else "missing"
        row.attempts += 1
        attempt, adapter_name, payload = row.attempts, row.adapter, dict(row.payload)
    adapter = adapters.get(adapter_name)
    try:
        if adapter is None:
            raise HandoffError(f"adapter '{adapter_name}' is not configured", permanent=True)
        delivered = adapter.deliver(payload_from_json(payload))
    except HandoffError as exc:
        dead = exc.permanent or attempt >= MAX_ATTEMPTS
        # The platform's own answer (`detail`) may quote the chat back: the dead-letter list keeps it,
        # the log and the job's exception do not.
        error = f"{exc}: {exc.detail}" if exc.detail else str(exc)
        _finish(database, handoff_id, "dead" if dead else "pending", now, error=error)
        if dead:
            log.error("hand-off %d (%s) is a dead letter: %s", handoff_id, adapter_name, exc)
            return "dead"
        raise RetryLater(str(exc)) from exc
    _finish(database, handoff_id, "delivered", now, external_id=delivered.external_id)
    return "delivered"


def _finish(
    database: Database,
    handoff_id: int,
    status: str,
    now: datetime,
    *,
    error: str | None = None,
    external_id: str | None = None,
) -> None:
    with database.session() as session:
        row = session.get(Handoff, handoff_id)
        assert row is not None
        row.status, row.updated_at = status, now
        if error is not None:
            row.last_error = error[:2000]
        if status == "delivered":
            row.delivered_at, row.external_id, row.last_error = now, external_id, None
            chat = session.get(Chat, row.session_id) if row.session_id else None
            if chat is not None and chat.state in ("created", "link_clicked", "chat_started"):
                chat.state = "handed_off"


def dead_letters(database: Database) -> list[Handoff]:
    with database.session() as session:
        rows = list(session.scalars(select(Handoff).where(Handoff.status == "dead").order_by(Handoff.id)))
        session.expunge_all()
        return rows


def revive(database: Database, handoff_id: int, now: datetime) -> bool:
    """Make a dead letter pending again (attempts reset); the caller enqueues it."""
    with database.session() as session:
        row = session.get(Handoff, handoff_id)
        if row is None or row.status != "dead":
            return False
        row.status, row.attempts, row.updated_at = "pending", 0, now
        return True

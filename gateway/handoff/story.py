"""The call's story as an agent receives it (the hand-off payload, the context card): built in one place
from the chat session, which keeps the call as the offer was accepted (`gateway.deflection.story`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.deflection.story import CallContext
from gateway.store.models import Call, Chat


@dataclass(frozen=True)
class CallStory:
    """What the agent needs to know about the call, without asking again. No more personal data
    than that: the number is the one the customer is chatting from anyway."""

    reference: str | None
    call_sid: str | None
    caller: str | None
    flow_id: str | None
    locale: str | None
    queue: str | None
    menu_choices: list[str] = field(default_factory=list)  # labels, e.g. ["Карты", "Вопрос по карте"]
    waited_seconds: int | None = None
    position: int | None = None
    consent_id: int | None = None
    called_at: str | None = None  # ISO 8601, UTC
    keyed_number: bool = False


NO_CALL = CallStory(None, None, None, None, None, None)


def story_of(chat: Chat, called_at: datetime | None = None) -> CallStory:
    """The call's story as kept in the chat session (`called_at`: when the call started, if known;
    else when the offer was accepted)."""
    context = CallContext.from_json(chat.context or {})
    return CallStory(
        reference=chat.reference,
        call_sid=chat.call_sid,
        caller=chat.number,
        flow_id=chat.flow_id,
        locale=chat.locale,
        queue=chat.queue,
        menu_choices=context.menu_labels,
        waited_seconds=context.waited_seconds,
        position=context.position,
        consent_id=chat.consent_id,
        called_at=(called_at or chat.created_at).astimezone(UTC).isoformat(),
        keyed_number=context.keyed_number,
    )


def call_started_at(session: Session, chat: Chat) -> datetime | None:
    """When the call began, from the call log (None when it was never recorded)."""
    return session.scalar(select(Call.started_at).where(Call.call_sid == chat.call_sid))

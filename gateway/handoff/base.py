"""The hand-off contract: what an agent platform receives (the chat, the customer, the call's story) and
the one interface every adapter (Twilio Conversations, signed webhook, context card) implements."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from gateway.handoff.story import CallStory


@dataclass(frozen=True)
class HandoffPayload:
    """One chat handed to agents. `match` says how the chat was tied to the call: link, reference,
    number, sender, or unmatched / expired (nobody is dropped: an unmatched chat is handed off too,
    without any call's story)."""

    handoff_id: int
    session_id: int | None
    channel: str  # whatsapp | sms | telegram | viber
    customer_address: str  # whatsapp:+7..., +7..., tg:<chat id>
    customer_name: str | None
    first_message: str
    message_id: str
    match: str  # link | reference | number | sender | unmatched | expired
    flagged: str | None  # e.g. reference_from_other_number (gateway.handoff.matching)
    story: CallStory
    context_card_url: str | None  # signed, expiring link to the call's story (every hand-off has it)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """A short system message for the agent, in the customer's language."""
        story = self.story
        russian = (story.locale or "").startswith("ru")
        minutes = round((story.waited_seconds or 0) / 60)
        if self.match in ("unmatched", "expired"):
            head = ("Чат без привязки к звонку" if russian else "Chat not tied to a call") + (
                f" ({self.match})" if self.match == "expired" else ""
            )
        elif russian:
            head = f"Звонок {story.reference}: ждал(а) {minutes} мин в очереди {story.queue or '-'}"
        else:
            head = f"Call {story.reference}: waited {minutes} min in queue {story.queue or '-'}"
        parts = [head]
        if story.menu_choices:
            parts.append(("Выбор в меню: " if russian else "Menu: ") + " → ".join(story.menu_choices))
        if self.flagged:
            parts.append(("Внимание: " if russian else "Note: ") + self.flagged.replace("_", " "))
        if self.context_card_url:
            parts.append(("Карточка звонка: " if russian else "Call card: ") + self.context_card_url)
        return "\n".join(parts)


@dataclass(frozen=True)
class Delivered:
    external_id: str | None = None  # e.g. the Conversation SID


class HandoffError(Exception):
    """The platform did not take the chat. `permanent` says whether retrying could help; `detail` is
    what the platform answered, which may quote the chat (kept for the dead-letter list, never logged)."""

    def __init__(self, message: str, *, permanent: bool = False, detail: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.detail = detail


class HandoffAdapter(Protocol):
    name: str

    def deliver(self, payload: HandoffPayload) -> Delivered:
        """Hand the chat over; must be safe to call again for the same handoff_id (retries)."""
        ...

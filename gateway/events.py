"""Call events: what happened on a call (or a chat), with its time, as reports count it. A base module:
the flow engine makes them, the domain adds its own, the call log stores them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Event:
    """Something reports will count: kind such as 'menu.choice', plain JSON-ready data.

    `key`, when given, is the event's natural key within its call: an event with a key already
    stored for the call is not stored again (a customer opening the same link twice).
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


class EventRecorder(Protocol):
    """Where call events go (`gateway.store.call_log.CallLog`); must not raise."""

    def record(self, call_sid: str, events: Iterable[Event], now: float) -> None:
        """Events of a call, or of the chat session, link or SMS a call led to."""
        ...

    def record_message(self, message_id: str, events: Iterable[Event], now: float) -> None:
        """Events of a chat message that joined no call (its message is stored first)."""
        ...

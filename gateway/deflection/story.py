"""The call as the chat session keeps it: who called, what they chose in the menu, how long and where
they waited. Written once, when the offer is accepted (`gateway.deflection.accept`); read by the
hand-off and the context card (`gateway.handoff.card.story_of`). One typed value, stored as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CallContext:
    call_sid: str
    caller: str | None  # E.164; None when withheld (a keyed-in number is the session's own `number`)
    called: str
    flow_id: str
    flow_version: int
    locale: str
    queue: str | None
    menu_path: list[str] = field(default_factory=list)  # step ids
    choices: list[dict[str, str]] = field(default_factory=list)  # {"step", "digit", "label"}
    waited_seconds: int | None = None
    position: int | None = None  # the place in the queue the wait loop last saw
    keyed_number: bool = False
    consent_id: int | None = None

    @property
    def menu_labels(self) -> list[str]:
        """The menu choices as the caller heard them (the label; the digit when a menu had none)."""
        return [
            str(c.get("label") or c.get("digit")) for c in self.choices if c.get("label") or c.get("digit")
        ]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallContext:
        """Tolerant of sessions written by earlier releases (keys missing, unknown ones ignored)."""
        choices = [c for c in data.get("choices") or [] if isinstance(c, dict)]
        return cls(
            call_sid=str(data.get("call_sid") or ""),
            caller=data.get("caller"),
            called=str(data.get("called") or ""),
            flow_id=str(data.get("flow_id") or ""),
            flow_version=int(data.get("flow_version") or 0),
            locale=str(data.get("locale") or ""),
            queue=data.get("queue"),
            menu_path=list(data.get("menu_path") or []),
            choices=choices,
            waited_seconds=data.get("waited_seconds"),
            position=data.get("position"),
            keyed_number=bool(data.get("keyed_number")),
            consent_id=data.get("consent_id"),
        )

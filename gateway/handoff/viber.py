"""Viber, the REST Bot API side: checking a callback's signature (`verify_signature`) and reading the two
callbacks a hand-off needs (`parse_event`): `conversation_started`, whose `context` is the link token our
`viber://pa?chatURI=...&context=<link token>` link carries, and `message`. No Flask here.

Viber identifies a customer by a bot-specific user id, never by a phone number, so a Viber chat is
matched to its call by the link token only (a reference typed in Viber is not enough: see
`gateway.handoff.matching`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Literal

SIGNATURE_HEADER = "X-Viber-Content-Signature"
HANDLED_EVENTS = ("conversation_started", "message")
# InboundMessage.sender holds 64 characters and we prefix "viber:"; Viber's ids are ~24 characters.
MAX_USER_ID = 58
MAX_NAME = 120  # InboundMessage.profile_name


@dataclass(frozen=True)
class ViberEvent:
    """One callback that may start or continue a chat.

    `context` is set for `conversation_started` (None when the customer opened the bot without our
    link); `text` for `message` (empty for a picture, sticker or location without a caption, whose
    type and URL are in `media`)."""

    event: Literal["conversation_started", "message"]
    message_token: int
    user_id: str
    user_name: str | None
    context: str | None = None
    subscribed: bool = False
    text: str = ""
    media: dict[str, Any] = field(default_factory=dict)


def verify_signature(auth_token: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the hex HMAC-SHA256 of the raw request body keyed with the bot's token."""
    if not auth_token or not header:
        return False
    expected = hmac.new(auth_token.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


def parse_event(data: Any) -> ViberEvent | None:
    """The callback as a `ViberEvent`, or None for events a hand-off does not need (`webhook`,
    `subscribed`, `unsubscribed`, `delivered`, `seen`, `failed`, ...) and for malformed ones."""
    if not isinstance(data, dict) or data.get("event") not in HANDLED_EVENTS:
        return None
    token = _message_token(data.get("message_token"))
    if token is None:
        return None
    if data["event"] == "conversation_started":
        user = _user(data.get("user"))
        if user is None:
            return None
        context = data.get("context")
        return ViberEvent(
            event="conversation_started",
            message_token=token,
            user_id=user[0],
            user_name=user[1],
            context=(context.strip() or None) if isinstance(context, str) else None,
            subscribed=data.get("subscribed") is True,
        )
    sender, message = _user(data.get("sender")), data.get("message")
    if sender is None or not isinstance(message, dict):
        return None
    text = message.get("text")
    return ViberEvent(
        event="message",
        message_token=token,
        user_id=sender[0],
        user_name=sender[1],
        text=text if isinstance(text, str) else "",
        media=_media(message),
    )


def _message_token(value: Any) -> int | None:
    # A 64-bit integer in Viber's JSON; bool is an int in Python and never a token.
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _user(value: Any) -> tuple[str, str | None] | None:
    if not isinstance(value, dict):
        return None
    user_id, name = value.get("id"), value.get("name")
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > MAX_USER_ID:
        return None
    return user_id, (name.strip()[:MAX_NAME] or None) if isinstance(name, str) else None


def _media(message: dict[str, Any]) -> dict[str, Any]:
    kind = message.get("type")
    if not isinstance(kind, str) or kind == "text":
        return {}
    url = message.get("media")
    return {"items": [{"url": url if isinstance(url, str) else None, "type": kind}]}

"""Telegram, the Bot API side: sending a reply (`TelegramBot`) and reading an Update (`parse_update`,
`start_payload` for t.me deep links: `/start <payload>` carries the session's link token). No Flask here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

MAX_TEXT = 4096  # Telegram refuses longer messages
_START = re.compile(r"^/start(?:@[A-Za-z][A-Za-z0-9_]{0,63})?(?:\s+(?P<payload>\S+))?\s*$")
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TelegramError(Exception):
    """The Bot API did not take the request. `status` is the HTTP status (0: not reached);
    `permanent` says whether sending the same request again could help."""

    def __init__(self, message: str, *, status: int = 0, description: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.description = description
        self.permanent = 400 <= status < 500 and status != 429


@dataclass(frozen=True)
class TelegramMessage:
    """The part of an Update that a hand-off needs: who wrote, in which chat, what."""

    update_id: int
    chat_id: int
    first_name: str | None
    username: str | None
    text: str


class TelegramBot:
    """A minimal Bot API client: only what the gateway uses."""

    def __init__(self, token: str, base_url: str = "https://api.telegram.org", timeout: float = 5) -> None:
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send_message(self, chat_id: int | str, text: str) -> int:
        """Send `text` to the chat; return Telegram's message_id."""
        result = self._call("sendMessage", {"chat_id": chat_id, "text": text[:MAX_TEXT]})
        return int(result["message_id"])

    def _call(self, method: str, body: dict[str, Any]) -> Any:
        url = f"{self.base_url}/bot{self.token}/{method}"
        try:
            response = requests.post(url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            # Not str(exc): requests puts the URL, and with it the bot token, into its messages.
            raise TelegramError(f"Telegram {method} failed: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise TelegramError(
                f"Telegram {method} answered HTTP {response.status_code} without JSON",
                status=response.status_code,
            )
        if not response.ok or not data.get("ok"):
            description = str(data.get("description") or "no description")
            status = response.status_code if not response.ok else int(data.get("error_code") or 400)
            raise TelegramError(
                f"Telegram {method} refused (HTTP {status}): {description}",
                status=status,
                description=description,
            )
        return data.get("result")


def parse_update(data: Any) -> TelegramMessage | None:
    """The new private-chat message in an Update, or None for anything else (edits, group chats,
    callback queries, malformed updates): the gateway talks to customers one to one."""
    if not isinstance(data, dict):
        return None
    update_id, message = data.get("update_id"), data.get("message")
    if not isinstance(update_id, int) or not isinstance(message, dict):
        return None
    chat = message.get("chat")
    if not isinstance(chat, dict) or chat.get("type", "private") != "private":
        return None
    chat_id = chat.get("id")
    if not isinstance(chat_id, int):
        return None
    sender = message.get("from")
    if not isinstance(sender, dict):
        sender = {}
    text = message.get("text") or message.get("caption") or ""
    return TelegramMessage(
        update_id=update_id,
        chat_id=chat_id,
        first_name=_text_or_none(sender.get("first_name")),
        username=_text_or_none(sender.get("username")),
        text=text if isinstance(text, str) else "",
    )


def start_payload(text: str) -> str | None:
    """The deep-link payload of `/start <payload>` (or `/start@BotName <payload>`), if it is a valid
    one: 1-64 characters of A-Z a-z 0-9 _ -, as Telegram allows in t.me/<bot>?start=<payload>."""
    match = _START.match(text.strip())
    if not match or not match.group("payload"):
        return None
    payload = match.group("payload")
    return payload if _PAYLOAD.match(payload) else None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

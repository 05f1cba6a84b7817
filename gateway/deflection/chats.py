"""Chats (chat sessions): the call's context with a reference and a link token, waiting for the chat.

State machine: created -> link_clicked -> chat_started -> handed_off -> closed, or expired. Each move
is also a call event with its time, so the funnel can be reported from events alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.deflection.reference import new_link_token, new_reference
from gateway.messaging.deeplinks import prefilled_text, telegram_link, viber_link, whatsapp_link
from gateway.store.models import Chat

# A session stays live (its link works, its number and reference match) until it expires or closes.
LIVE_STATES = ("created", "link_clicked", "chat_started", "handed_off")
WAITING_FOR_AGENT = ("link_clicked", "chat_started")


@dataclass(frozen=True)
class ChannelAccounts:
    """Where the chat continues, per channel (from settings)."""

    whatsapp_number: str | None
    telegram_bot: str | None
    viber_uri: str | None

    def available(self, wanted: list[str]) -> list[str]:
        have = {"whatsapp": self.whatsapp_number, "telegram": self.telegram_bot, "viber": self.viber_uri}
        return [c for c in wanted if have.get(c)]


def open_chat(
    session: Session,
    *,
    call_sid: str,
    number: str,
    flow_id: str,
    flow_version: int,
    locale: str,
    queue: str | None,
    context: dict[str, Any],
    channels: list[str],
    consent_id: int,
    now: datetime,
    lifetime: timedelta,
) -> Chat:
    reference = new_reference(
        lambda r: session.scalar(select(Chat.id).where(Chat.reference == r)) is not None
    )
    row = Chat(
        reference=reference,
        link_token=new_link_token(),
        call_sid=call_sid,
        number=number,
        flow_id=flow_id,
        flow_version=flow_version,
        locale=locale,
        queue=queue,
        context=context,
        channels={"offered": channels},
        consent_id=consent_id,
        state="created",
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return row


def deep_link(row: Chat, channel: str, accounts: ChannelAccounts, brand: str) -> str:
    """The messenger link that opens the chat of a session (`messenger_link` of its own values)."""
    return messenger_link(
        channel, accounts, brand, locale=row.locale, reference=row.reference, link_token=row.link_token
    )


def messenger_link(
    channel: str, accounts: ChannelAccounts, brand: str, *, locale: str, reference: str, link_token: str
) -> str:
    """The messenger link that opens a chat: WhatsApp pre-filled with the reference; Telegram's
    `/start` payload and Viber's context carry the session's link token instead.

    The token (128 random bits) came in the SMS that only the caller's phone received, so the chat it
    opens may take the session; a 6-character reference could be guessed, and Telegram and Viber give
    no phone number to check it against."""
    text = prefilled_text(locale, reference, brand)
    if channel == "whatsapp" and accounts.whatsapp_number:
        return whatsapp_link(accounts.whatsapp_number, text)
    if channel == "telegram" and accounts.telegram_bot:
        return telegram_link(accounts.telegram_bot, link_token)
    if channel == "viber" and accounts.viber_uri:
        return viber_link(accounts.viber_uri, link_token, text)
    raise LookupError(f"channel {channel} is not configured")


def sms_link(
    channels: Sequence[str],
    accounts: ChannelAccounts,
    brand: str,
    *,
    locale: str,
    reference: str,
    link_token: str,
    link_mode: str,
    link_base: str,
) -> str:
    """What goes in the SMS of a session offering `channels`: our short tracked link, or (one
    channel, direct mode) the messenger link itself."""
    if link_mode == "direct" and len(channels) == 1:
        return messenger_link(
            channels[0], accounts, brand, locale=locale, reference=reference, link_token=link_token
        )
    return f"{link_base}/l/{link_token}"


def is_live(row: Chat, now: datetime) -> bool:
    return row.state in LIVE_STATES and row.expires_at > now


def expire_chats(session: Session, now: datetime, limit: int = 500) -> list[tuple[int, str]]:
    """Mark live chats past their expiry as expired; returns (chat id, CallSid) of each."""
    rows = list(
        session.scalars(
            select(Chat)
            .where(Chat.state.in_(LIVE_STATES), Chat.expires_at <= now)
            .order_by(Chat.id)
            .limit(limit)
        )
    )
    for row in rows:
        row.state = "expired"
    return [(row.id, row.call_sid) for row in rows]

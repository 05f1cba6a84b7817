"""Clicks on our short link (``/l/<token>``): find the session, decide what the customer sees, and
note the first click (it moves the session to ``link_clicked``) and each channel chosen, once per
session, as call events: later visits read and redirect, and write nothing.

No Flask here: the handler passes the database, the channel accounts, the brand, an event recorder
and the time, and renders the `LinkOutcome` it gets back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import CursorResult, case, select, update
from sqlalchemy.orm import Session

from gateway.deflection.chats import ChannelAccounts, deep_link, is_live
from gateway.events import Event, EventRecorder
from gateway.store.db import Database
from gateway.store.models import Chat

LINK_TOKEN_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Buttons are shown in this order; WhatsApp first because most customers have it.
CHANNEL_ORDER: Final = ("whatsapp", "telegram", "viber")

Kind = Literal["unknown", "expired", "redirect", "choose", "unknown_channel"]


@dataclass(frozen=True)
class LinkOutcome:
    """What to show for a visit: a redirect to ``location``, the channel page, or an error page.

    Only what a page may show is here (reference, locale, channels): never the caller's number.
    """

    kind: Kind
    locale: str | None = None
    reference: str | None = None
    channels: tuple[str, ...] = ()
    location: str | None = None


@dataclass(frozen=True)
class _Visit:
    """A live session as read inside the transaction, plus what the visit changed."""

    outcome: LinkOutcome
    call_sid: str | None = None
    events: tuple[Event, ...] = ()


def is_link_token(text: str) -> bool:
    """True when ``text`` can be a link token; anything else is refused without a database lookup."""
    return LINK_TOKEN_PATTERN.fullmatch(text) is not None


def open_link(
    database: Database,
    token: str,
    now: datetime,
    *,
    accounts: ChannelAccounts,
    brand: str,
    recorder: EventRecorder,
    counted: bool = True,
) -> LinkOutcome:
    """A visit to ``/l/<token>``: a redirect when one channel is available, else the channel page.

    The first visit to a live link is the session's ``link.clicked`` event (the one reports count):
    it sets ``clicked_at`` and moves ``created`` to ``link_clicked`` (later states stay). Later
    visits write nothing. Database errors propagate: the caller shows a "try again" page.
    """
    if not is_link_token(token):
        return LinkOutcome("unknown")
    with database.session() as session:
        visit = _open(session, token, now, accounts, brand, counted)
    _record(recorder, visit, now)
    return visit.outcome


def choose_channel(
    database: Database,
    token: str,
    channel: str,
    now: datetime,
    *,
    accounts: ChannelAccounts,
    brand: str,
    recorder: EventRecorder,
    counted: bool = True,
) -> LinkOutcome:
    """A button on the channel page (``/l/<token>/<channel>``): a redirect to that messenger.

    A channel the session was not offered (or that is no longer configured) is ``unknown_channel``.
    The first choice of each channel is a ``link.channel_chosen`` event; if the page visit was never
    noted (the address was typed or shared), the click is noted here too.
    """
    if not is_link_token(token):
        return LinkOutcome("unknown")
    with database.session() as session:
        visit = _choose(session, token, channel, now, accounts, brand, counted)
    _record(recorder, visit, now)
    return visit.outcome


# Messaging apps fetch a link to draw its preview before anyone taps it; those fetches are not clicks.
PREVIEW_AGENTS = (
    "whatsapp",
    "telegrambot",
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "slackbot",
    "skypeuripreview",
    "viber",
    "vkshare",
    "discordbot",
    "linkedinbot",
    "applebot",
    "googlebot",
    "bingbot",
    "yandex",
    "iframely",
    "embedly",
)


def is_link_preview(method: str, user_agent: str) -> bool:
    """A HEAD request or a known link-preview fetcher (Android's and iMessage's previews send an
    ordinary browser agent and cannot be told apart)."""
    agent = user_agent.lower()
    return method == "HEAD" or any(name in agent for name in PREVIEW_AGENTS)


def available_channels(row: Chat, accounts: ChannelAccounts) -> tuple[str, ...]:
    """The session's offered channels that are configured, in button order (WhatsApp first)."""
    offered = row.channels.get("offered", []) if isinstance(row.channels, dict) else []
    usable = set(accounts.available([c for c in offered if isinstance(c, str)]))
    return tuple(c for c in CHANNEL_ORDER if c in usable)


def _open(
    session: Session, token: str, now: datetime, accounts: ChannelAccounts, brand: str, counted: bool
) -> _Visit:
    row = _find(session, token)
    if row is None:
        return _Visit(LinkOutcome("unknown"))
    if not is_live(row, now):
        return _Visit(LinkOutcome("expired", locale=row.locale))
    channels = available_channels(row, accounts)
    first = counted and _mark_clicked(session, row, now)
    if len(channels) == 1:
        outcome = LinkOutcome(
            "redirect",
            locale=row.locale,
            reference=row.reference,
            channels=channels,
            location=deep_link(row, channels[0], accounts, brand),
        )
        chosen: str | None = channels[0]
    else:
        outcome = LinkOutcome("choose", locale=row.locale, reference=row.reference, channels=channels)
        chosen = None
    events = (_clicked(row, chosen),) if first else ()
    return _Visit(outcome, row.call_sid, events)


def _choose(
    session: Session,
    token: str,
    channel: str,
    now: datetime,
    accounts: ChannelAccounts,
    brand: str,
    counted: bool,
) -> _Visit:
    row = _find(session, token)
    if row is None:
        return _Visit(LinkOutcome("unknown"))
    if not is_live(row, now):
        return _Visit(LinkOutcome("expired", locale=row.locale))
    channels = available_channels(row, accounts)
    if channel not in channels:
        return _Visit(LinkOutcome("unknown_channel", locale=row.locale))
    events = []
    if counted and _mark_clicked(session, row, now):
        events.append(_clicked(row, channel))
    if counted:
        # Keyed: the same button tapped again is stored once (see gateway.store.call_log).
        events.append(Event("link.channel_chosen", {"channel": channel}, key=f"{row.id}:{channel}"))
    outcome = LinkOutcome(
        "redirect",
        locale=row.locale,
        reference=row.reference,
        channels=channels,
        location=deep_link(row, channel, accounts, brand),
    )
    return _Visit(outcome, row.call_sid, tuple(events))


def _find(session: Session, token: str) -> Chat | None:
    return session.scalar(select(Chat).where(Chat.link_token == token))


def _clicked(row: Chat, channel: str | None) -> Event:
    return Event("link.clicked", {"channel": channel, "first": True}, key=str(row.id))


def _mark_clicked(session: Session, row: Chat, now: datetime) -> bool:
    """Note the first click; True when this visit is it.

    A session clicked before is not written to again. Otherwise one conditional UPDATE, so two
    simultaneous first visits (a double tap) give exactly one ``first``; a session already further
    on (chat_started...) keeps its state.
    """
    if row.clicked_at is not None:
        return False
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Chat)
        .where(Chat.id == row.id, Chat.clicked_at.is_(None))
        .values(
            clicked_at=now,
            state=case((Chat.state == "created", "link_clicked"), else_=Chat.state),
        )
        .execution_options(synchronize_session=False)
    )
    # The row object is left as read: nothing after this needs its state or clicked_at.
    return result.rowcount == 1


def _record(recorder: EventRecorder, visit: _Visit, now: datetime) -> None:
    # After the commit: the call log writes in its own transaction (and buffers in Redis on failure).
    if visit.call_sid and visit.events:
        recorder.record(visit.call_sid, visit.events, now.timestamp())

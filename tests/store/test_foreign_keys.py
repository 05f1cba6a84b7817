"""The database keeps rows that name each other whole: a row naming a missing row is refused, and so is
deleting a row that others name; a call event belongs to a call or to a message, never to neither."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from gateway.store.db import Database
from gateway.store.models import (
    CallEvent,
    Chat,
    ConsentRecord,
    Handoff,
    InboundMessage,
    OptOut,
    SmsOutbox,
)
from tests.support.sessions import open_chat_session

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MISSING = 999_999


@pytest.fixture
def database(app: Any) -> Iterator[Database]:
    """The suite's database (SQLite or PostgreSQL), with one accepted offer in it; wiped afterwards."""
    open_chat_session(app)
    yield app.extensions["deflect"].database


def _message(session_id: int | None = None, message_id: str = "SM" + "c" * 32) -> InboundMessage:
    return InboundMessage(
        message_id=message_id,
        channel="whatsapp",
        sender="whatsapp:+79161234567",
        body="hi",
        session_id=session_id,
        match="unmatched",
        received_at=AT,
    )


def _handoff(inbound_id: int, session_id: int | None = None) -> Handoff:
    return Handoff(
        inbound_id=inbound_id, session_id=session_id, adapter="webhook", created_at=AT, updated_at=AT
    )


def _event(call_sid: str | None, message_id: str | None) -> CallEvent:
    return CallEvent(event_id="e1", call_sid=call_sid, message_id=message_id, kind="chat.message", at=AT)


def _outbox(session_id: int) -> SmsOutbox:
    return SmsOutbox(
        offer_key="CA-x:1",
        session_id=session_id,
        call_sid="CA" + "9" * 32,
        to="+79161234567",
        body="link",
        encoding="GSM-7",
        segments=1,
        created_at=AT,
        updated_at=AT,
    )


DANGLING: dict[str, Callable[[], Any]] = {
    "chat session without its consent": lambda: Chat(
        reference="ZZZZZZ",
        link_token="t" * 22,
        call_sid="CA" + "9" * 32,
        number="+79161234567",
        flow_id="ru-bank-support",
        flow_version=1,
        locale="ru-RU",
        consent_id=MISSING,
        created_at=AT,
        expires_at=AT,
    ),
    "opt-out without its consent": lambda: OptOut(
        number="+79035550011", at=AT, channel="sms", consent_id=MISSING
    ),
    "outbox row without its session": lambda: _outbox(MISSING),
    "message joined to a missing session": lambda: _message(session_id=MISSING),
    "hand-off of a missing message": lambda: _handoff(MISSING),
    "event of a missing message": lambda: _event(None, "SM" + "0" * 32),
}


@pytest.mark.parametrize("row", DANGLING.values(), ids=DANGLING.keys())
def test_a_row_naming_a_missing_row_is_refused(database: Database, row: Callable[[], Any]) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(row())


def test_a_hand_off_of_a_missing_session_is_refused(database: Database) -> None:
    with database.session() as session:
        message = _message()
        session.add(message)
        session.flush()
        inbound_id = message.id
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(_handoff(inbound_id, session_id=MISSING))


@pytest.mark.parametrize(
    ("call_sid", "message_id"), [(None, None), ("CA" + "1" * 32, "SM" + "c" * 32)], ids=["neither", "both"]
)
def test_an_event_belongs_to_a_call_or_to_a_message(
    database: Database, call_sid: str | None, message_id: str | None
) -> None:
    with database.session() as session:
        session.add(_message())
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(_event(call_sid, message_id))


@pytest.mark.parametrize("parent", [ConsentRecord, Chat])
def test_a_row_that_others_name_cannot_be_deleted(database: Database, parent: type[Any]) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.execute(delete(parent))


@pytest.mark.parametrize("child", ["event", "hand-off"])
def test_a_message_with_events_or_hand_offs_cannot_be_deleted(database: Database, child: str) -> None:
    with database.session() as session:
        message = _message()
        session.add(message)
        session.flush()
        session.add(_event(None, message.message_id) if child == "event" else _handoff(message.id))
    with pytest.raises(IntegrityError), database.session() as session:
        session.execute(delete(InboundMessage))

"""The call log keeps the events of a chat that joined no call under its message, also when they waited
in Redis for the database, and also when they were buffered before messages had their own column."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from gateway.events import Event
from gateway.store.call_log import PENDING_KEY, CallLog
from gateway.store.db import Database
from gateway.store.models import CallEvent, InboundMessage

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CALL = "CA" + "1" * 32
MESSAGE = "SM" + "c" * 32


def _store_message(app: Any, message_id: str = MESSAGE) -> None:
    with app.extensions["deflect"].database.session() as session:
        session.add(
            InboundMessage(
                message_id=message_id,
                channel="whatsapp",
                sender="whatsapp:+79035550011",
                body="hi",
                match="unmatched",
                received_at=AT,
            )
        )


def _events(app: Any) -> list[tuple[str | None, str | None, str]]:
    with app.extensions["deflect"].database.session() as session:
        query = select(CallEvent.call_sid, CallEvent.message_id, CallEvent.kind).order_by(CallEvent.id)
        return [tuple(row) for row in session.execute(query)]


def test_events_of_a_chat_without_a_call_wait_in_redis_and_keep_their_message(app: Any) -> None:
    services = app.extensions["deflect"]
    _store_message(app)
    broken = Database("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1)
    down = CallLog(broken, services.redis)

    down.record_message(MESSAGE, [Event("chat.message", {"channel": "whatsapp"})], AT.timestamp())
    down.record(CALL, [Event("call.status", {"status": "completed"})], AT.timestamp())
    broken.dispose()

    assert services.redis.llen(PENDING_KEY) == 2
    assert CallLog(services.database, services.redis).flush_pending() == 2
    assert _events(app) == [(None, MESSAGE, "chat.message"), (CALL, None, "call.status")]


def test_events_buffered_before_messages_had_their_own_column_are_stored_as_now(app: Any) -> None:
    """An outage that spans the upgrade: the old code kept a chat's message id in call_sid."""
    services = app.extensions["deflect"]
    _store_message(app)
    at = AT.isoformat()
    for n, owner in enumerate((MESSAGE, CALL, "XX" + "3" * 32)):
        row = {"event_id": f"e{n}", "call_sid": owner, "kind": "chat.message", "at": at, "data": {}}
        entry = {"call_sid": owner, "rows": [row], "call": {}, "at": AT.timestamp()}
        services.redis.rpush(PENDING_KEY, json.dumps(entry))

    assert CallLog(services.database, services.redis).flush_pending() == 3

    assert _events(app) == [
        (None, MESSAGE, "chat.message"),
        (CALL, None, "chat.message"),
        ("XX" + "3" * 32, None, "chat.message"),  # no stored message: left where it was (as 0005 does)
    ]

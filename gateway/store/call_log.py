"""The call log in the database: one row per call and every event of it, with its time; the events of
a chat that joined no call are kept under its inbound message's id instead.

Reports are built from these rows, so an event must not be lost when the database hiccups: a write
that fails is kept in a Redis list and replayed by the periodic `flush_events` job (each event carries
its own id, so a replay never stores one twice).

Under Sentinel each buffered write waits until a replica confirms it (`push_durably`), so a failover of
the Redis primary does not lose it. When no replica confirms within 200 ms, the events are on the
primary alone and the log says so at error level: they are lost only if that primary dies before it
replicates them (with the database down at the same time). With one Redis server (REDIS_URL), the
buffer lasts as long as that server's data.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.events import Event
from gateway.store.db import Database
from gateway.store.models import Call, CallEvent, InboundMessage
from gateway.store.redis import push_durably

log = logging.getLogger(__name__)

PENDING_KEY = "deflect:events:pending"
CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


def event_rows(
    events: Iterable[Event], now: float, *, call_sid: str | None = None, message_id: str | None = None
) -> list[dict[str, Any]]:
    """The rows of events of one call, or of one message that joined no call."""
    at = datetime.fromtimestamp(now, UTC).isoformat()
    owner = call_sid or message_id or ""
    return [
        {
            "event_id": _event_id(owner, e),
            "keyed": e.key is not None,
            "call_sid": call_sid,
            "message_id": message_id,
            "kind": e.kind,
            "at": at,
            "data": e.data,
        }
        for e in events
    ]


def add_events(session: Session, call_sid: str, events: Iterable[Event], now: float) -> None:
    """Store a call's events in the caller's transaction: a decision and the events that record it
    commit together (give them keys, so recording them again later stores nothing)."""
    add_event_rows(session, event_rows(events, now, call_sid=call_sid))


def _event_id(owner: str, event: Event) -> str:
    """A random id, or one derived from the event's natural key: the unique event_id then stores a
    keyed event once, however often it is recorded (and replayed)."""
    if event.key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{owner}:{event.kind}:{event.key}".encode()).hexdigest()[:32]


class CallLog:
    def __init__(
        self,
        database: Database,
        connection: redis.Redis | None,
        *,
        observe: Callable[[Sequence[Event]], None] | None = None,
    ) -> None:
        self.database = database
        self.redis = connection
        # Sees every event this process records, before it is stored (the metrics count them).
        self.observe = observe

    def record(
        self, call_sid: str, events: Iterable[Event], now: float, call: Mapping[str, Any] | None = None
    ) -> None:
        """Store a call's events (and create or update the call's row). Never raises: on a database
        failure the rows wait in Redis; if Redis is down too, they are logged and lost."""
        events = self._observed(events)
        self._write(call_sid, event_rows(events, now, call_sid=call_sid), now, call)

    def record_message(self, message_id: str, events: Iterable[Event], now: float) -> None:
        """Store the events of a chat message that joined no call, under its id (the message is stored
        before). Never raises, as `record`."""
        events = self._observed(events)
        self._write(None, event_rows(events, now, message_id=message_id), now, None)

    def _observed(self, events: Iterable[Event]) -> Sequence[Event]:
        events = tuple(events)
        if self.observe is not None and events:
            try:
                self.observe(events)
            except Exception:  # counting is never worth an event
                log.exception("call events not counted")
        return events

    def _write(
        self, call_sid: str | None, rows: list[dict[str, Any]], now: float, call: Mapping[str, Any] | None
    ) -> None:
        if not rows and not call:
            return
        try:
            with self.database.session() as session:
                if call and call_sid:
                    _upsert_call(session, call_sid, call, now)
                add_event_rows(session, rows)
        except Exception as exc:
            log.warning(
                "call log write failed (%s); keeping %d events in Redis", exc.__class__.__name__, len(rows)
            )
            self._buffer(call_sid, rows, call, now)

    def _buffer(
        self, call_sid: str | None, rows: list[dict[str, Any]], call: Mapping[str, Any] | None, now: float
    ) -> None:
        owner = call_sid or (rows[0]["message_id"] if rows else None)
        if self.redis is None:
            log.error("call log: %d events of %s lost (no database, no Redis)", len(rows), owner)
            return
        entry = json.dumps(
            {"call_sid": call_sid, "rows": rows, "call": dict(call or {}), "at": now}, default=str
        )
        try:
            replicated = push_durably(self.redis, PENDING_KEY, entry)
        except Exception as exc:
            log.error("call log: %d events of %s lost (%s)", len(rows), owner, exc.__class__.__name__)
            return
        if not replicated:
            log.error(
                "call log: %d events of %s wait on the Redis primary alone (no replica confirmed them): "
                "lost if it fails before replicating them",
                len(rows),
                owner,
            )

    def flush_pending(self, batch: int = 200) -> int:
        """Replay buffered writes into the database; returns how many entries were stored."""
        assert self.redis is not None
        done = 0
        while True:
            entries = self.redis.lrange(PENDING_KEY, 0, batch - 1)
            if not entries:
                return done
            with self.database.session() as session:
                for raw in entries:
                    entry = json.loads(raw)
                    if entry["call"]:
                        _upsert_call(session, entry["call_sid"], entry["call"], _written_at(entry))
                    add_event_rows(session, [_owned(session, row) for row in entry["rows"]])
            self.redis.ltrim(PENDING_KEY, len(entries), -1)
            done += len(entries)


def _written_at(entry: Mapping[str, Any]) -> float:
    """When a buffered write happened (entries buffered before this was kept: their first event's time)."""
    if "at" in entry:
        return float(entry["at"])
    rows = entry.get("rows") or []
    return datetime.fromisoformat(rows[0]["at"]).timestamp() if rows else 0.0


def _owned(session: Session, row: dict[str, Any]) -> dict[str, Any]:
    """A buffered row as stored now. Rows buffered before message ids had their own column carry the
    message id of a chat without a call in call_sid: moved as migration 0005 moved the stored ones."""
    if "message_id" in row:
        return row
    sid = row["call_sid"]
    if not CALL_SID.match(sid) and session.scalar(
        select(InboundMessage.id).where(InboundMessage.message_id == sid)
    ):
        return {**row, "call_sid": None, "message_id": sid}
    return {**row, "message_id": None}


def add_event_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store event rows (`event_rows`) in the caller's transaction: one INSERT for the rows not stored
    yet, none when there are none. Only keyed events (a click, a status, recorded again and again)
    are looked up first, so that recording one again writes nothing; an event with a random id
    (most, and every one of an incoming call) cannot be stored yet, and ON CONFLICT covers a replay
    from the buffer."""
    keyed = [r["event_id"] for r in rows if r.get("keyed", True)]  # buffered before the flag: look up
    if keyed:
        seen = set(session.scalars(select(CallEvent.event_id).where(CallEvent.event_id.in_(keyed))))
        rows = [r for r in rows if r["event_id"] not in seen]
    if not rows:
        return
    values = [
        {
            "event_id": row["event_id"],
            "call_sid": row["call_sid"],
            "message_id": row["message_id"],
            "kind": row["kind"],
            "at": datetime.fromisoformat(row["at"]),
            "data": row["data"],
        }
        for row in rows
    ]
    # On the session's connection: the statement is Core, and the ORM's bulk-insert path around
    # `session.execute` costs as much again as the INSERT itself (a third of an incoming call).
    session.connection().execute(_events_insert(_dialect(session)), values)


def _dialect(session: Session) -> str:
    return "sqlite" if session.get_bind().dialect.name == "sqlite" else "postgresql"


def _insert(dialect: str, model: type[Any]) -> Any:
    """INSERT for this database, with its ON CONFLICT clauses (SQLite and PostgreSQL say the same)."""
    statement: Insert = (sqlite if dialect == "sqlite" else postgresql).insert(model)
    return statement


@functools.cache
def _events_insert(dialect: str) -> Any:
    """The events' INSERT, built once: its values are the execute's parameters."""
    return _insert(dialect, CallEvent).on_conflict_do_nothing(index_elements=["event_id"])


@functools.cache
def _call_upsert(dialect: str, updated: frozenset[str]) -> Any:
    """The call row's INSERT .. ON CONFLICT, built once per set of `updated` fields (a handful: the
    webhooks each change the same few): the values are the execute's parameters, and a conflict
    sets the `updated` fields to the values given (`excluded`), as `set_=values` would."""
    statement = _insert(dialect, Call)
    if not updated:
        return statement.on_conflict_do_nothing(index_elements=["call_sid"])
    return statement.on_conflict_do_update(
        index_elements=["call_sid"], set_={name: statement.excluded[name] for name in sorted(updated)}
    )


_CALL_FIELDS = {
    "caller",
    "called",
    "flow_id",
    "flow_version",
    "locale",
    "status",
    "queue",
    "outcome",
    "ended_at",
    "started_at",
}


def _upsert_call(session: Session, call_sid: str, values: Mapping[str, Any], now: float) -> None:
    """Create or update the call's row, in one statement; a call first heard of now (a status callback
    for a call whose start was not recorded) started, as far as we know, `now`."""
    clean = {k: v for k, v in values.items() if k in _CALL_FIELDS}
    for key in ("ended_at", "started_at"):
        if isinstance(clean.get(key), str):
            clean[key] = datetime.fromisoformat(clean[key])
    defaults = {
        "called": "",
        "flow_id": "",
        "flow_version": 0,
        "locale": "",
        "status": "in-progress",
        "started_at": datetime.fromtimestamp(now, UTC),
    }
    session.connection().execute(
        _call_upsert(_dialect(session), frozenset(clean)), {"call_sid": call_sid, **defaults, **clean}
    )

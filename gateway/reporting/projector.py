"""The fold: new call events into fact rows, and the facts' changes into their hours' sums, in one
transaction with the cursor, so a fold that fails changes nothing and the next one starts over.

Run by the worker every few seconds (`gateway.jobs.fold_reports`), one at a time (a Redis lock), and
by `deflect report refresh`. Reading by id alone would miss an event whose transaction commits after a
later id was read (PostgreSQL hands out ids before commit): ids skipped over are kept as gaps and
looked for again for `GAP_PATIENCE`.

A call's fact is made when its `queue.enqueued` event is read; a call first seen now (its events came
late, from the Redis buffer) is folded from all its stored events, in time order. Re-contact: when a
call starts, the earlier calls of the same number within the long window learn how soon it called
again; a fact made late looks the other way, for the number's next call.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.reporting.facts import KINDS, SUM_COLUMNS, Fact, SliceKey, Windows, contribution, fold, slice_key
from gateway.store.db import Database
from gateway.store.models import (
    SLICE_COLUMNS,
    Call,
    CallEvent,
    CallFact,
    ReportCursor,
    SmsOutbox,
    report_hours,
)

log = logging.getLogger(__name__)

CURSOR = "call_facts"
GAP_PATIENCE = timedelta(minutes=10)
BATCH = 5000

Event = tuple[str, Mapping[str, Any], datetime]
_EVENTS = select(CallEvent.id, CallEvent.call_sid, CallEvent.kind, CallEvent.data, CallEvent.at)


@dataclass(frozen=True)
class Folded:
    events: int  # events read
    facts: int  # fact rows made or changed
    behind: bool  # more events wait: fold again


def fold_new_events(database: Database, windows: Windows, now: datetime, batch: int = BATCH) -> Folded:
    """Fold the events stored since the last fold (at most `batch`), in one transaction."""
    with database.session() as session:
        cursor = session.get(ReportCursor, CURSOR)
        if cursor is None:
            cursor = ReportCursor(name=CURSOR, last_id=0, gaps={}, updated_at=now)
            session.add(cursor)
        newer = _EVENTS.where(CallEvent.id > cursor.last_id).order_by(CallEvent.id).limit(batch)
        rows = list(session.execute(newer))
        gaps = {int(k): float(v) for k, v in (cursor.gaps or {}).items()}
        if gaps:
            rows += list(session.execute(_EVENTS.where(CallEvent.id.in_(list(gaps)))))
        cursor.gaps = _gaps_left(gaps, cursor.last_id, [r.id for r in rows], now)
        if rows:
            cursor.last_id = max(cursor.last_id, max(r.id for r in rows))
        cursor.updated_at = now
        by_call: dict[str, list[Event]] = defaultdict(list)
        started: set[str] = set()
        for row in rows:
            if row.call_sid is None:
                continue  # a chat that joined no call
            if row.kind == "call.started":
                started.add(row.call_sid)
            if row.kind in KINDS:
                by_call[row.call_sid].append((row.kind, row.data or {}, row.at))
        changed = apply_events(session, by_call, started, windows)
        return Folded(events=len(rows), facts=changed, behind=len(rows) >= batch)


def _gaps_left(gaps: dict[int, float], last_id: int, read: Sequence[int], now: datetime) -> dict[str, float]:
    """Ids not read yet that a later id was: looked for again, until `GAP_PATIENCE` (a transaction
    that was rolled back leaves its id unused for good)."""
    seen = set(read)
    patience = GAP_PATIENCE.total_seconds()
    left = {i: t for i, t in gaps.items() if i not in seen and now.timestamp() - t < patience}
    top = max(read, default=last_id)
    for missing in set(range(last_id + 1, top)) - seen:
        left.setdefault(missing, now.timestamp())
    return {str(i): t for i, t in sorted(left.items())}


def apply_events(
    session: Session, by_call: Mapping[str, list[Event]], started: set[str], windows: Windows
) -> int:
    """Fold each call's new events into its fact and the changes into the hours' sums."""
    sids = sorted(set(by_call) | started)
    rows = session.scalars(select(CallFact).where(CallFact.call_sid.in_(sids)))
    stored = {row.call_sid: _fact(row) for row in rows}
    before = {sid: fact.copy() for sid, fact in stored.items()}
    after: dict[str, Fact] = {}
    new = [sid for sid in by_call if sid not in stored]
    for sid, fact in stored.items():
        if by_call.get(sid):
            after[sid] = fold(fact, by_call[sid])
    for sid, fact in _made(session, new).items():
        after[sid] = fact
    _segments(session, after)
    _next_calls(session, after, [sid for sid in after if sid not in before], windows)
    recontacted = _recontacts(session, started, windows)
    for sid, (old, fact) in recontacted.items():
        before.setdefault(sid, old)
        fact_now = after.get(sid, fact)
        fact_now.next_call_seconds = _sooner(fact_now.next_call_seconds, fact.next_call_seconds)
        after[sid] = fact_now
    changed = {sid: fact for sid, fact in after.items() if before.get(sid) != fact}
    _save(session, changed, before)
    add_sums(session, _deltas(before, changed, windows))
    return len(changed)


def _fact(row: CallFact) -> Fact:
    return Fact.from_values({c.key: getattr(row, c.key) for c in CallFact.__table__.columns})


def _made(session: Session, sids: Sequence[str]) -> dict[str, Fact]:
    """Facts of calls first seen now, folded from all their stored events: only those that reached a
    queue have one."""
    if not sids:
        return {}
    events: dict[str, list[tuple[str, Mapping[str, Any], datetime]]] = defaultdict(list)
    for sid, kind, data, at in session.execute(
        select(CallEvent.call_sid, CallEvent.kind, CallEvent.data, CallEvent.at)
        .where(CallEvent.call_sid.in_(sids))
        .order_by(CallEvent.at, CallEvent.id)
    ):
        events[sid].append((kind, data or {}, at))
    calls = {c.call_sid: c for c in session.scalars(select(Call).where(Call.call_sid.in_(sids)))}
    made = {}
    for sid, its in events.items():
        entered = next(((d, at) for kind, d, at in its if kind == "queue.enqueued"), None)
        if entered is None:
            continue
        data, at = entered
        call = calls.get(sid)
        fact = Fact(
            call_sid=sid,
            caller=call.caller if call else None,
            flow_id=call.flow_id if call else "",
            flow_version=call.flow_version if call else 0,
            locale=call.locale if call else "",
            queue=str(data.get("queue") or ""),
            started_at=call.started_at if call else at,
            entered_at=at,
        )
        made[sid] = fold(fact, [e for e in its if e[0] in KINDS])
    return made


def _segments(session: Session, facts: Mapping[str, Fact]) -> None:
    """The SMS's segments, from its outbox row, where the events did not say."""
    wanted = {f.outbox_id: f for f in facts.values() if f.outbox_id is not None and not f.sms_segments}
    if wanted:
        for outbox_id, segments in session.execute(
            select(SmsOutbox.id, SmsOutbox.segments).where(SmsOutbox.id.in_(list(wanted)))
        ):
            wanted[outbox_id].sms_segments = int(segments)


def _next_calls(session: Session, facts: Mapping[str, Fact], sids: Sequence[str], windows: Windows) -> None:
    """For facts made now: how soon the same number called again (within the long window), if it did."""
    for sid in sids:
        fact = facts[sid]
        if fact.caller is None:
            continue
        later = session.scalar(
            select(Call.started_at)
            .where(
                Call.caller == fact.caller,
                Call.started_at > fact.started_at,
                Call.started_at <= fact.started_at + windows.long,
                Call.call_sid != sid,
            )
            .order_by(Call.started_at)
            .limit(1)
        )
        if later is not None:
            fact.next_call_seconds = int((later - fact.started_at).total_seconds())


def _recontacts(session: Session, started: set[str], windows: Windows) -> dict[str, tuple[Fact, Fact]]:
    """Calls that started now, as re-contacts of the same number's earlier calls: (before, after)."""
    found: dict[str, tuple[Fact, Fact]] = {}
    if not started:
        return found
    calls = session.scalars(select(Call).where(Call.call_sid.in_(sorted(started)), Call.caller.is_not(None)))
    for call in calls.all():
        for row in session.scalars(
            select(CallFact).where(
                CallFact.caller == call.caller,
                CallFact.started_at >= call.started_at - windows.long,
                CallFact.started_at < call.started_at,
                CallFact.call_sid != call.call_sid,
            )
        ):
            old = found[row.call_sid][0] if row.call_sid in found else _fact(row)
            new = (found[row.call_sid][1] if row.call_sid in found else old).copy()
            gap = int((call.started_at - row.started_at).total_seconds())
            new.next_call_seconds = _sooner(new.next_call_seconds, gap)
            found[row.call_sid] = (old, new)
    return found


def _sooner(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _save(session: Session, changed: Mapping[str, Fact], before: Mapping[str, Fact]) -> None:
    for sid, fact in changed.items():
        if sid in before:
            session.execute(update(CallFact).where(CallFact.call_sid == sid).values(**fact.values()))
        else:
            session.add(CallFact(**fact.values()))
    session.flush()


def _deltas(
    before: Mapping[str, Fact], changed: Mapping[str, Fact], windows: Windows
) -> dict[SliceKey, dict[str, int]]:
    deltas: dict[SliceKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sid, fact in changed.items():
        old = before.get(sid)
        if old is not None:
            for name, n in contribution(old, windows).items():
                deltas[slice_key(old)][name] -= n
        for name, n in contribution(fact, windows).items():
            deltas[slice_key(fact)][name] += n
    return {key: dict(d) for key, d in deltas.items() if any(d.values())}


def add_sums(session: Session, deltas: Mapping[SliceKey, Mapping[str, int]]) -> None:
    """Add to the hours' sums, making the rows that are not there yet (an upsert on the slice)."""
    if not deltas:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = []
    for key, delta in deltas.items():
        row: dict[str, Any] = dict(zip(("hour", *SLICE_COLUMNS), key, strict=True))
        row.update({name: int(delta.get(name, 0)) for name in SUM_COLUMNS})
        rows.append(row)
    statement = insert(report_hours)
    statement = statement.on_conflict_do_update(
        index_elements=["hour", *SLICE_COLUMNS],
        set_={name: report_hours.c[name] + statement.excluded[name] for name in SUM_COLUMNS},
    )
    for start in range(0, len(rows), 500):
        session.execute(statement, rows[start : start + 500])


def forget_all(session: Session) -> None:
    """Drop every fact and sum and the cursor: the next folds read every event again (`deflect report
    rebuild`, after the re-contact windows changed)."""
    session.execute(delete(report_hours))
    session.execute(delete(CallFact))
    session.execute(delete(ReportCursor).where(ReportCursor.name == CURSOR))


def fold_all(database: Database, windows: Windows, now: datetime, batch: int = BATCH) -> Iterator[Folded]:
    """Fold until nothing is left, one transaction per batch (progress for a caller to show)."""
    while True:
        done = fold_new_events(database, windows, now, batch)
        yield done
        if not done.behind:
            return

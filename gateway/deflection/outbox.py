"""Where the SMS leaves, exactly once.

Accepting an offer (`gateway.deflection.accept`) writes the consent, the chat session and an outbox row
in ONE transaction; the row's natural key is the offer (CallSid + offer number), so a duplicate Gather
POST finds the row already there. A job then sends it: the row is claimed atomically (pending ->
sending) so two workers cannot both send, and a row left in `sending` by a crashed worker is only sent
again after asking the provider whether the first attempt got through. Permanent provider errors are
never retried; transient ones are. A job sends several rows in one batch (`send_batch`): one claim and
one write of the outcomes for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.events import Event, EventRecorder
from gateway.messaging.providers import MessageProvider, SendError, StatusUpdate
from gateway.store.call_log import add_event_rows, event_rows
from gateway.store.db import Database
from gateway.store.models import OptOut, SmsOutbox

log = logging.getLogger(__name__)

_OUTBOX = cast(Table, SmsOutbox.__table__)  # a batch's outcomes are written with executemany

# A worker holding a row longer than this is presumed dead (well above the HTTP timeout).
SENDING_LEASE = timedelta(seconds=60)
# A batch stops taking rows well inside the lease (waits on a shared sender, a slow provider): a row
# held past the lease is claimed again by a retry, and both would send it.
BATCH_TIME = SENDING_LEASE / 2
ACCEPTED_STATUSES = frozenset({"accepted", "queued", "sent", "delivered", "undelivered", "failed", "read"})
# Status callback order: a late "sent" must not overwrite "delivered".
_STATUS_RANK = {
    "pending": 0,
    "sending": 1,
    "accepted": 2,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "undelivered": 4,
    "failed": 4,
    "refused": 4,
}
STATUSES = tuple(_STATUS_RANK)  # every status an outbox row can have


class TransientSendError(RuntimeError):
    """Try again later (RQ's Retry takes it from here). `unsent`: the rows of the batch that are
    pending again (the one that failed, then those not tried)."""

    def __init__(self, message: str, *, unsent: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.unsent = list(unsent)


def outbox_id_for(database: Database, offer_key: str) -> int | None:
    with database.session() as session:
        return session.scalar(select(SmsOutbox.id).where(SmsOutbox.offer_key == offer_key))


def status_of(database: Database, outbox_id: int) -> tuple[str, int | None]:
    with database.session() as session:
        row = session.get(SmsOutbox, outbox_id)
        return (row.status, row.error_code) if row else ("missing", None)


def send_once(
    database: Database,
    provider: MessageProvider,
    outbox_id: int,
    *,
    clock: Clock,
    status_callback: str,
    throttle: Callable[[int], float] | None = None,
) -> str:
    """Send the outbox row's SMS unless it already went; returns the row's status afterwards.
    `throttle(n)` says how long to wait before the sender may send (0: now), with n messages to go."""
    statuses = send_batch(
        database,
        provider,
        [outbox_id],
        clock=clock,
        status_callback=lambda _: status_callback,
        throttle=throttle,
    )
    return statuses[outbox_id]


@dataclass(frozen=True)
class _Claimed:
    """A row this worker holds (`sending`): what sending it needs."""

    id: int
    to: str
    body: str
    offer_key: str
    created_at: datetime
    attempts: int


@dataclass
class _Outcome:
    """What became of one claimed row, written back with the others of its batch."""

    id: int
    status: str
    sid: str | None = None
    code: int | None = None
    error_message: str | None = None


def send_batch(
    database: Database,
    provider: MessageProvider,
    outbox_ids: Sequence[int],
    *,
    clock: Clock,
    status_callback: Callable[[int], str],
    throttle: Callable[[int], float] | None = None,
) -> dict[int, str]:
    """Send each row's SMS unless it already went, in order; returns every row's status afterwards.

    The rows are claimed in one statement and their outcomes written in one transaction, so a batch
    costs the database two round trips instead of three a row. A transient provider error stops the
    batch: that row and the ones not tried yet are `pending` again, and `TransientSendError.unsent`
    lists them. A batch still going after BATCH_TIME stops too, with its untried rows `pending` (the
    statuses returned say so). A row whose send was under way when the process died stays `sending`:
    it is only sent again after asking the provider whether it got through (attempt > 1)."""
    claimed_at = clock.now()
    claimed, opted_out = _claim(database, list(dict.fromkeys(outbox_ids)), claimed_at)
    outcomes: list[_Outcome] = []
    tried = 0
    try:
        for row in claimed:
            if tried and clock.now() - claimed_at >= BATCH_TIME:
                log.info(
                    "outbox batch out of time after %d of %d rows: the rest are pending", tried, len(claimed)
                )
                break  # the rows not tried are `pending` again (below), for the next job
            tried += 1
            outcome = _send_one(
                provider,
                row,
                status_callback(row.id),
                row.to in opted_out,
                clock,
                throttle,
                to_go=len(claimed) - tried + 1,
            )
            outcomes.append(outcome)
            if outcome.status == "pending":
                unsent = [row.id] + [later.id for later in claimed[tried:]]
                raise TransientSendError(outcome.error_message or "transient error", unsent=unsent)
    finally:
        # Written whatever stopped the batch: what the provider took is never asked for again, what
        # was not tried is free for the next job. A row whose send raised stays `sending`.
        owners = {row.id: row.offer_key.split(":", 1)[0] for row in claimed}
        _record(database, outcomes, [row.id for row in claimed[tried:]], clock.now(), owners)
    statuses = {outcome.id: outcome.status for outcome in outcomes}
    others = [outbox_id for outbox_id in outbox_ids if outbox_id not in statuses]
    return statuses | _statuses(database, others)


def _send_one(
    provider: MessageProvider,
    row: _Claimed,
    status_callback: str,
    opted_out: bool,
    clock: Clock,
    throttle: Callable[[int], float] | None,
    *,
    to_go: int,
) -> _Outcome:
    if row.attempts > 1:
        # An earlier attempt may have reached the provider before its worker died.
        found = provider.find_sent(
            to=row.to, body=row.body, since=row.created_at, idempotency_key=row.offer_key
        )
        if found is not None:
            log.info(
                "outbox %d: earlier attempt had been accepted (%s); not sending again", row.id, found.sid
            )
            return _Outcome(row.id, found.status, sid=found.sid)
    if opted_out:
        return _Outcome(row.id, "refused", error_message="opted out before sending")
    while throttle is not None and (wait := throttle(to_go)) > 0:
        clock.sleep(wait)
    try:
        sent = provider.send(
            to=row.to, body=row.body, status_callback=status_callback, idempotency_key=row.offer_key
        )
    except SendError as exc:
        if exc.permanent:
            log.warning("outbox %d refused by the provider (%s): %s", row.id, exc.code, exc)
            return _Outcome(row.id, "refused", code=exc.code, error_message=str(exc))
        return _Outcome(row.id, "pending", code=exc.code, error_message=str(exc))
    return _Outcome(row.id, sent.status, sid=sent.sid)


def _claim(database: Database, outbox_ids: list[int], now: datetime) -> tuple[list[_Claimed], set[str]]:
    """Take the rows that are free (pending, or held by a worker past its lease), atomically: two
    workers never both hold one. In the order asked, with the numbers among them that opted out."""
    if not outbox_ids:
        return [], set()
    with database.session() as session:
        result = session.execute(
            update(SmsOutbox)
            .where(
                SmsOutbox.id.in_(outbox_ids),
                or_(
                    SmsOutbox.status == "pending",
                    (SmsOutbox.status == "sending") & (SmsOutbox.updated_at < now - SENDING_LEASE),
                ),
            )
            .values(status="sending", attempts=SmsOutbox.attempts + 1, updated_at=now)
            .returning(
                SmsOutbox.id,
                SmsOutbox.to,
                SmsOutbox.body,
                SmsOutbox.offer_key,
                SmsOutbox.created_at,
                SmsOutbox.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        claimed = {row.id: _Claimed(*row) for row in result}
        numbers = {row.to for row in claimed.values()}
        opted_out = (
            set(session.scalars(select(OptOut.number).where(OptOut.number.in_(numbers))))
            if numbers
            else set()
        )
    return [claimed[outbox_id] for outbox_id in outbox_ids if outbox_id in claimed], opted_out


def _record(
    database: Database,
    outcomes: list[_Outcome],
    untried: list[int],
    now: datetime,
    owners: Mapping[int, str] | None = None,
) -> None:
    """The batch's outcomes, in one transaction, with an `sms.sent` event each in the call's log (the
    reports' "accepted by the provider", or its refusal). A status callback may have come before this
    (Twilio is quick): it has moved the row on, and keeps its status."""
    if not outcomes and not untried:
        return
    owners = owners or {}
    events = [
        row
        for o in outcomes
        if o.status != "pending" and o.id in owners
        for row in event_rows(
            [Event("sms.sent", {"outbox_id": o.id, "status": o.status, "error_code": o.code}, key=str(o.id))],
            now.timestamp(),
            call_sid=owners[o.id],
        )
    ]
    row = _OUTBOX.c
    ours = (row.id == bindparam("row_id")) & (row.status == "sending")
    with database.session() as session:
        sent = [o for o in outcomes if o.sid is not None]
        if sent:
            session.execute(
                update(_OUTBOX)
                .where(row.id == bindparam("row_id"))
                .values(
                    status=case((row.status == "sending", bindparam("new_status")), else_=row.status),
                    provider_sid=func.coalesce(row.provider_sid, bindparam("sid")),
                    accepted_at=func.coalesce(row.accepted_at, bindparam("now")),
                    updated_at=bindparam("now"),
                ),
                [{"row_id": o.id, "new_status": o.status, "sid": o.sid, "now": now} for o in sent],
            )
        failed = [o for o in outcomes if o.sid is None]
        if failed:
            session.execute(
                update(_OUTBOX)
                .where(ours)
                .values(
                    status=bindparam("new_status"),
                    error_code=bindparam("code"),
                    error_message=bindparam("message"),
                    updated_at=bindparam("now"),
                ),
                [
                    {
                        "row_id": o.id,
                        "new_status": o.status,
                        "code": o.code,
                        "message": o.error_message,
                        "now": now,
                    }
                    for o in failed
                ],
            )
        if untried:  # claimed, never tried: as they were, for the next job
            session.execute(
                update(_OUTBOX)
                .where(ours)
                .values(status="pending", attempts=row.attempts - 1, updated_at=bindparam("now")),
                [{"row_id": outbox_id, "now": now} for outbox_id in untried],
            )
        _add_sent_events(session, events)


def _add_sent_events(session: Session, events: list[dict[str, Any]]) -> None:
    """The batch's `sms.sent` events, in a savepoint: they are for reports, and a failure to store
    them must never cost the outcomes beside them (a row left `sending` would be asked about and
    perhaps sent again)."""
    if not events:
        return
    try:
        with session.begin_nested():
            add_event_rows(session, events)
    except Exception as exc:
        log.error("outbox: %d sms.sent events not stored (%s)", len(events), exc.__class__.__name__)


def _statuses(database: Database, outbox_ids: list[int]) -> dict[int, str]:
    if not outbox_ids:
        return {}
    with database.session() as session:
        found = dict(
            session.execute(select(SmsOutbox.id, SmsOutbox.status).where(SmsOutbox.id.in_(outbox_ids))).all()
        )
    return {outbox_id: found.get(outbox_id, "missing") for outbox_id in outbox_ids}


def record_status(
    database: Database, outbox_id: int, *, sid: str, status: str, error_code: int | None, now: datetime
) -> SmsOutbox | None:
    """A provider status callback: move the row forward (never backwards), keep the error code."""
    with database.session() as session:
        row = session.get(SmsOutbox, outbox_id)
        if row is None or (row.provider_sid not in (None, sid)):
            return None
        if row.provider_sid is None:
            row.provider_sid, row.accepted_at = sid, row.accepted_at or now
        if _STATUS_RANK.get(status, 0) >= _STATUS_RANK.get(row.status, 0):
            row.status = status
        if error_code:
            row.error_code = error_code
        row.updated_at = now
        session.flush()
        session.expunge(row)
        return row


def apply_status(
    database: Database, recorder: EventRecorder, outbox_id: int, update: StatusUpdate, now: datetime
) -> bool:
    """A status callback for one outbox row, recorded with a call event; False when it belongs to
    none. A live webhook and its replay after an outage both come here."""
    row = record_status(
        database, outbox_id, sid=update.sid, status=update.status, error_code=update.error_code, now=now
    )
    if row is None:
        log.warning("status callback for unknown outbox %d / %s ignored", outbox_id, update.sid)
        return False
    data = {"outbox_id": outbox_id, "status": update.reported, "error_code": row.error_code}
    recorder.record(row.call_sid, [Event("sms.status", data)], now.timestamp())
    return True


def stuck_rows(
    database: Database, now: datetime, *, older_than: timedelta = timedelta(seconds=30), limit: int = 100
) -> list[int]:
    """Rows that should be sending but have no live worker (Redis lost the job, a worker died)."""
    with database.session() as session:
        return list(
            session.scalars(
                select(SmsOutbox.id)
                .where(
                    or_(
                        (SmsOutbox.status == "pending") & (SmsOutbox.updated_at < now - older_than),
                        (SmsOutbox.status == "sending") & (SmsOutbox.updated_at < now - SENDING_LEASE),
                    ),
                    SmsOutbox.created_at > now - timedelta(days=1),
                )
                .order_by(SmsOutbox.id)
                .limit(limit)
            )
        )

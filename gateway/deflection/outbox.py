"""Where the SMS leaves, exactly once.

Accepting an offer (`gateway.deflection.accept`) writes the consent, the chat session and an outbox row
in ONE transaction; the row's natural key is the offer (CallSid + offer number), so a duplicate Gather
POST finds the row already there. A job then sends it: the row is claimed atomically (pending ->
sending) so two workers cannot both send, and a row left in `sending` by a crashed worker is only sent
again after asking the provider whether the first attempt got through. Permanent provider errors are
never retried; transient ones are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from gateway.clock import Clock
from gateway.deflection.consent import is_opted_out
from gateway.events import Event, EventRecorder
from gateway.messaging.providers import MessageProvider, SendError, StatusUpdate
from gateway.store.db import Database
from gateway.store.models import SmsOutbox

log = logging.getLogger(__name__)

# A worker holding a row longer than this is presumed dead (well above the HTTP timeout).
SENDING_LEASE = timedelta(seconds=60)
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
    """Try again later (RQ's Retry takes it from here)."""


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
    throttle: Callable[[], float] | None = None,
) -> str:
    """Send the outbox row's SMS unless it already went; returns the row's status afterwards.
    `throttle` says how long to wait before the sender may send (0: now)."""
    claimed = _claim(database, outbox_id, clock.now())
    if claimed is None:
        return status_of(database, outbox_id)[0]
    row, attempt = claimed
    if attempt > 1:
        # An earlier attempt may have reached the provider before its worker died.
        found = provider.find_sent(
            to=row.to, body=row.body, since=row.created_at, idempotency_key=row.offer_key
        )
        if found is not None:
            log.info(
                "outbox %d: earlier attempt had been accepted (%s); not sending again", outbox_id, found.sid
            )
            return _mark(database, outbox_id, found.status, clock.now(), sid=found.sid)
    with database.session() as session:
        if is_opted_out(session, row.to):
            return _mark(
                database, outbox_id, "refused", clock.now(), error_message="opted out before sending"
            )
    while throttle is not None and (wait := throttle()) > 0:
        clock.sleep(wait)
    try:
        sent = provider.send(
            to=row.to, body=row.body, status_callback=status_callback, idempotency_key=row.offer_key
        )
    except SendError as exc:
        if exc.permanent:
            log.warning("outbox %d refused by the provider (%s): %s", outbox_id, exc.code, exc)
            return _mark(database, outbox_id, "refused", clock.now(), code=exc.code, error_message=str(exc))
        _mark(database, outbox_id, "pending", clock.now(), code=exc.code, error_message=str(exc))
        raise TransientSendError(str(exc)) from exc
    return _mark(database, outbox_id, sent.status, clock.now(), sid=sent.sid)


def _claim(database: Database, outbox_id: int, now: datetime) -> tuple[SmsOutbox, int] | None:
    with database.session() as session:
        result = session.execute(
            update(SmsOutbox)
            .where(
                SmsOutbox.id == outbox_id,
                or_(
                    SmsOutbox.status == "pending",
                    (SmsOutbox.status == "sending") & (SmsOutbox.updated_at < now - SENDING_LEASE),
                ),
            )
            .values(status="sending", attempts=SmsOutbox.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
            return None
        row = session.get(SmsOutbox, outbox_id)
        assert row is not None
        session.expunge(row)
        return row, row.attempts


def _mark(
    database: Database,
    outbox_id: int,
    status: str,
    now: datetime,
    *,
    sid: str | None = None,
    code: int | None = None,
    error_message: str | None = None,
) -> str:
    with database.session() as session:
        row = session.get(SmsOutbox, outbox_id)
        assert row is not None
        row.status, row.updated_at = status, now
        if sid is not None:
            row.provider_sid = sid
            row.accepted_at = row.accepted_at or now
        if code is not None or error_message is not None:
            row.error_code, row.error_message = code, error_message
        return status


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

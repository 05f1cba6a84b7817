"""Where the SMS leaves, exactly once.

Accepting an offer writes the consent, the chat session and an outbox row in ONE transaction; the row's
natural key is the offer (CallSid + offer number), so a duplicate Gather POST finds the row already
there. A job then sends it: the row is claimed atomically (pending -> sending) so two workers cannot
both send, and a row left in `sending` by a crashed worker is only sent again after asking the provider
whether the first attempt got through. Permanent provider errors are never retried; transient ones are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.channels import written_names
from gateway.clock import Clock
from gateway.deflection.consent import ConsentGiven, is_opted_out, record_consent
from gateway.deflection.sessions import ChannelAccounts, open_session, sms_link
from gateway.events import Event, EventRecorder
from gateway.messaging.providers import MessageProvider, SendError, StatusUpdate
from gateway.messaging.templates import TemplateSet
from gateway.store.db import Database
from gateway.store.models import SmsOutbox

log = logging.getLogger(__name__)

# A worker holding a row longer than this is presumed dead (well above the HTTP timeout).
SENDING_LEASE = timedelta(seconds=60)
ACCEPTED_STATUSES = frozenset(
    {"accepted", "queued", "sending_provider", "sent", "delivered", "undelivered", "failed", "read"}
)
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


@dataclass(frozen=True)
class Acceptance:
    """What the caller agreed to, and everything the session must remember of the call."""

    offer_key: str
    consent: ConsentGiven
    locale: str
    queue: str | None
    context: dict[str, Any]
    channels: list[str]
    sms_template: str


@dataclass(frozen=True)
class MessageSetup:
    """What composing the SMS needs, from settings."""

    templates: TemplateSet
    accounts: ChannelAccounts
    brand: str
    link_mode: str
    link_base: str  # the configured public base; the dialogue passes the request's own
    session_lifetime: timedelta


class TransientSendError(RuntimeError):
    """Try again later (RQ's Retry takes it from here)."""


def accept_offer(database: Database, acceptance: Acceptance, setup: MessageSetup, now: datetime) -> int:
    """Record consent, open the session and queue the SMS, in one transaction. Returns the outbox id;
    calling it again for the same offer returns the same id and writes nothing."""
    for _ in range(5):
        existing = outbox_id_for(database, acceptance.offer_key)
        if existing is not None:
            return existing
        try:
            with database.session() as session:
                return _write_acceptance(session, acceptance, setup, now)
        except IntegrityError:
            # Either this offer was accepted meanwhile (found above next time), or another consent
            # took the ledger's head first: both resolve on retry.
            continue
    raise RuntimeError(f"offer {acceptance.offer_key} could not be recorded")


def outbox_id_for(database: Database, offer_key: str) -> int | None:
    with database.session() as session:
        return session.scalar(select(SmsOutbox.id).where(SmsOutbox.offer_key == offer_key))


def _write_acceptance(session: Session, acceptance: Acceptance, setup: MessageSetup, now: datetime) -> int:
    consent = record_consent(session, acceptance.consent, now)
    chat = open_session(
        session,
        call_sid=acceptance.consent.call_sid,
        number=acceptance.consent.number,
        flow_id=acceptance.consent.flow_id,
        flow_version=acceptance.consent.flow_version,
        locale=acceptance.locale,
        queue=acceptance.queue,
        context={**acceptance.context, "consent_id": consent.id},
        channels=acceptance.channels,
        consent_id=consent.id,
        now=now,
        lifetime=setup.session_lifetime,
    )
    link = sms_link(chat, setup.accounts, setup.brand, link_mode=setup.link_mode, link_base=setup.link_base)
    message = setup.templates.render(
        acceptance.locale,
        acceptance.sms_template,
        link=link,
        reference=chat.reference,
        brand=setup.brand,
        queue=acceptance.queue or "",
        minutes_waited=acceptance.context.get("waited_seconds", 0) // 60,
        channels=written_names(acceptance.channels),
    )
    row = SmsOutbox(
        offer_key=acceptance.offer_key,
        session_id=chat.id,
        call_sid=chat.call_sid,
        to=chat.number,
        body=message.body,
        encoding=message.segments.encoding,
        segments=message.segments.segments,
        status="pending",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


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

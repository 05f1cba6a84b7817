"""Figures read from the database and Redis when `/metrics` is scraped: the state of the whole
installation, whatever process did the work (the workers keep no figures of their own). Each is one
indexed query or a few Redis commands in one round trip, so a scrape every 15 s costs next to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.models import Handoff, SmsOutbox

# Outbox rows whose SMS has not left yet: waiting for a worker, or being sent.
NOT_SENT = ("pending", "sending")
# Every status an outbox row can have: ours (models.SmsOutbox) and whatever Twilio's status callbacks
# report. Listed, so that the query below is a range scan of ix_sms_outbox_status_created per status
# instead of a scan of the table.
SMS_STATUSES = (
    "pending",
    "sending",
    "accepted",
    "scheduled",
    "queued",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "refused",
    "canceled",
    "partially_delivered",
)
# Hand-offs still to deliver, and dead letters (`deflect handoff dead-letters`); few, and indexed.
WAITING_HANDOFFS = ("pending", "dead")


def oldest_unsent(session: Session) -> datetime | None:
    """When the oldest SMS accepted but not sent yet was accepted (None: there is none). One index-only
    look-up per status, however long the backlog."""
    firsts = [
        select(func.min(SmsOutbox.created_at)).where(SmsOutbox.status == status).scalar_subquery()
        for status in NOT_SENT
    ]
    found = [when for when in session.execute(select(*firsts)).one() if when is not None]
    return min(found) if found else None


def sms_since(session: Session, since: datetime) -> list[tuple[str, int | None, int]]:
    """(status, error code, messages) of the SMS accepted since `since`, as they stand now."""
    rows = session.execute(
        select(SmsOutbox.status, SmsOutbox.error_code, func.count())
        .where(SmsOutbox.status.in_(SMS_STATUSES), SmsOutbox.created_at >= since)
        .group_by(SmsOutbox.status, SmsOutbox.error_code)
    )
    return [(status, code, int(count)) for status, code, count in rows]


def waiting_handoffs(session: Session) -> list[tuple[str, str, int]]:
    """(adapter, status, hand-offs) of those pending or dead."""
    rows = session.execute(
        select(Handoff.adapter, Handoff.status, func.count())
        .where(Handoff.status.in_(WAITING_HANDOFFS))
        .group_by(Handoff.adapter, Handoff.status)
    )
    return [(adapter, status, int(count)) for adapter, status, count in rows]


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    waiting: int  # jobs queued, not started
    failed: int  # jobs in RQ's failed registry (retries spent)


def queue_depths(connection: redis.Redis) -> list[QueueDepth]:
    """Every RQ queue this Redis knows, in one round trip after the list of queues."""
    queues = sorted(Queue.all(connection=connection), key=lambda q: q.name)
    pipe = connection.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue.key)
        pipe.zcard(queue.failed_job_registry.key)
    counts = pipe.execute() if queues else []
    return [
        QueueDepth(queue.name, int(counts[2 * i]), int(counts[2 * i + 1])) for i, queue in enumerate(queues)
    ]

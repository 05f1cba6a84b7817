"""The SMS outbox as people read it (the console's operations page): recent messages with their
status, newest first. A body carries a bearer link (whoever holds it opens the caller's chat), so a
list shows only a preview with every link replaced and numbers masked, and the number it went to masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from gateway.deflection.outbox import STATUSES
from gateway.logs import mask_number, redact
from gateway.store.db import Database
from gateway.store.models import SmsOutbox

PREVIEW_LENGTH = 90
HIDDEN_LINK = "[link]"
_URL = re.compile(r"\b(?:https?|viber|tg)://\S+|\b(?:wa\.me|t\.me)/\S+", re.IGNORECASE)


@dataclass(frozen=True)
class OutboxLine:
    id: int
    created_at: datetime
    updated_at: datetime
    to_masked: str
    status: str
    encoding: str
    segments: int
    attempts: int
    error_code: int | None
    preview: str  # links replaced, numbers masked, cut short


@dataclass(frozen=True)
class OutboxPage:
    lines: list[OutboxLine]
    total: int  # of the chosen status (or all)
    counts: dict[str, int]  # messages per status, all of them


def recent_messages(
    database: Database, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> OutboxPage:
    """A page of the outbox, newest first, of one status or all."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown outbox status {status!r}")
    query = select(SmsOutbox).order_by(SmsOutbox.id.desc())
    counted = select(SmsOutbox.status, func.count(SmsOutbox.id)).group_by(SmsOutbox.status)
    with database.session() as session:
        counts = {name: int(n) for name, n in session.execute(counted).all()}
        if status is not None:
            query = query.where(SmsOutbox.status == status)
        rows = session.scalars(query.limit(limit).offset(offset)).all()
        lines = [_line(row) for row in rows]
    total = counts.get(status, 0) if status is not None else sum(counts.values())
    return OutboxPage(lines, total, counts)


def preview(body: str) -> str:
    """What a list may show of a message: no link (not even part of one), no full number."""
    shown = redact(_URL.sub(HIDDEN_LINK, body)).replace("\n", " ").strip()
    return shown if len(shown) <= PREVIEW_LENGTH else shown[: PREVIEW_LENGTH - 1].rstrip() + "…"


def _line(row: SmsOutbox) -> OutboxLine:
    return OutboxLine(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        to_masked=mask_number(row.to),
        status=row.status,
        encoding=row.encoding,
        segments=row.segments,
        attempts=row.attempts,
        error_code=row.error_code,
        preview=preview(row.body),
    )

"""Reading the audit log (written by `gateway.store.content`): newest first, filtered by who, what,
which subject and when, a page at a time or all of it (for an export, in chunks)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from gateway.store.db import Database
from gateway.store.models import AuditEntry

PAGE_SIZE = 50
EXPORT_CHUNK = 500


@dataclass(frozen=True)
class AuditQuery:
    """Which entries: `actor` and `subject` contain the text (any case), `action` is the action or
    starts with it ("user." is every user action), `since` <= at < `until`. Empty means any."""

    actor: str = ""
    action: str = ""
    subject: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def where(self, query: Select[Any]) -> Select[Any]:
        if self.actor:
            query = query.where(func.lower(AuditEntry.actor).contains(self.actor.lower(), autoescape=True))
        if self.subject:
            query = query.where(
                func.lower(AuditEntry.subject).contains(self.subject.lower(), autoescape=True)
            )
        if self.action:
            query = query.where(
                (AuditEntry.action == self.action)
                | AuditEntry.action.startswith(self.action, autoescape=True)
            )
        if self.since is not None:
            query = query.where(AuditEntry.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.at < self.until)
        return query


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int  # from 1
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def search(self, query: AuditQuery, *, page: int = 1, per_page: int = PAGE_SIZE) -> AuditPage:
        page = max(page, 1)
        with self.database.session() as session:
            total = session.scalar(query.where(select(func.count(AuditEntry.id)))) or 0
            rows = list(
                session.scalars(
                    query.where(select(AuditEntry))
                    .order_by(AuditEntry.id.desc())
                    .limit(per_page)
                    .offset((page - 1) * per_page)
                )
            )
            session.expunge_all()
        return AuditPage(rows, total, page, per_page)

    def each(self, query: AuditQuery, *, chunk: int = EXPORT_CHUNK) -> Iterator[AuditEntry]:
        """Every matching entry, newest first, read a chunk at a time (each in its own short
        transaction, so a long download holds no connection between chunks)."""
        before: int | None = None
        while True:
            selected = query.where(select(AuditEntry)).order_by(AuditEntry.id.desc()).limit(chunk)
            if before is not None:
                selected = selected.where(AuditEntry.id < before)
            with self.database.session() as session:
                rows = list(session.scalars(selected))
                session.expunge_all()
            yield from rows
            if len(rows) < chunk:
                return
            before = rows[-1].id

    def actions(self) -> list[str]:
        """Every action the log holds, for a filter's choices."""
        with self.database.session() as session:
            return sorted(session.scalars(select(AuditEntry.action).distinct()))

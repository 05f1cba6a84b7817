"""The content store in the database: immutable numbered versions of each item, one draft per item, one
live pointer per item, and the append-only audit log every change writes in the same transaction.

An item is a set of files, `{relative path: text}`, of one kind (flow, sms, voice) under a key (the
flow id, the locale). Text in, text out: parsing and validating is `gateway.content`'s job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.db import Database
from gateway.store.models import AuditEntry, ContentDraft, ContentLive, ContentVersion, MessagingSwitch

Files = Mapping[str, str]


def checksum(files: Files) -> str:
    """Identical files, identical checksum (the order they were given in does not matter)."""
    return hashlib.sha256(json.dumps(dict(files), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Version:
    kind: str
    key: str
    version: int
    files: dict[str, str]
    checksum: str
    author: str
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class Draft:
    kind: str
    key: str
    files: dict[str, str]
    checksum: str
    based_on: int | None
    problems: list[str]
    author: str
    updated_at: datetime


@dataclass(frozen=True)
class Change:
    """What the audit log keeps of one change."""

    actor: str
    action: str
    subject: str
    before: str | None = None
    after: str | None = None
    detail: Mapping[str, Any] | None = None


class AuditWriter(Protocol):
    """Where a domain service writes its audit entries (`ContentStore.record`)."""

    def record(self, change: Change, now: datetime) -> None: ...


class ContentStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- reading ----------------------------------------------------------------------------------

    def live_pointers(self) -> dict[tuple[str, str], int]:
        """Every item's live version: what each process follows (one small query)."""
        with self.database.session() as session:
            rows = session.execute(select(ContentLive.kind, ContentLive.key, ContentLive.version)).all()
        return {(kind, key): version for kind, key, version in rows}

    def live_versions(self) -> list[Version]:
        """Every item's live version, files and all (one query)."""
        with self.database.session() as session:
            rows = session.scalars(
                select(ContentVersion)
                .join(
                    ContentLive,
                    (ContentLive.kind == ContentVersion.kind)
                    & (ContentLive.key == ContentVersion.key)
                    & (ContentLive.version == ContentVersion.version),
                )
                .order_by(ContentVersion.kind, ContentVersion.key)
            ).all()
            return [_version(row) for row in rows]

    def version(self, kind: str, key: str, version: int) -> Version | None:
        with self.database.session() as session:
            row = session.scalar(
                select(ContentVersion).where(
                    ContentVersion.kind == kind, ContentVersion.key == key, ContentVersion.version == version
                )
            )
            return _version(row) if row is not None else None

    def history(self, kind: str, key: str) -> list[Version]:
        """Every version of an item, newest first."""
        with self.database.session() as session:
            rows = session.scalars(
                select(ContentVersion)
                .where(ContentVersion.kind == kind, ContentVersion.key == key)
                .order_by(ContentVersion.version.desc())
            ).all()
            return [_version(row) for row in rows]

    def live(self, kind: str, key: str) -> Version | None:
        version = self.live_pointers().get((kind, key))
        return self.version(kind, key, version) if version is not None else None

    def draft(self, kind: str, key: str) -> Draft | None:
        with self.database.session() as session:
            row = _draft_row(session, kind, key)
            return _draft(row) if row is not None else None

    def drafts(self) -> list[Draft]:
        with self.database.session() as session:
            rows = session.scalars(select(ContentDraft).order_by(ContentDraft.kind, ContentDraft.key)).all()
            return [_draft(row) for row in rows]

    def items(self) -> list[tuple[str, str]]:
        """Every item that has a version or a draft, by kind and key."""
        with self.database.session() as session:
            published = session.execute(select(ContentVersion.kind, ContentVersion.key).distinct()).all()
            drafted = session.execute(select(ContentDraft.kind, ContentDraft.key)).all()
        return sorted({(kind, key) for kind, key in [*published, *drafted]})

    def is_empty(self, kind: str) -> bool:
        with self.database.session() as session:
            return not session.scalar(
                select(func.count(ContentVersion.id)).where(ContentVersion.kind == kind)
            )

    def audit(self, subject: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first (all subjects, or one)."""
        with self.database.session() as session:
            query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if subject is not None:
                query = query.where(AuditEntry.subject == subject)
            rows = list(session.scalars(query))
            session.expunge_all()
            return rows

    def last_changes(self, subjects: Collection[str]) -> dict[str, AuditEntry]:
        """The newest entry of each subject (one query; subjects never changed are left out)."""
        if not subjects:
            return {}
        with self.database.session() as session:
            newest = (
                select(func.max(AuditEntry.id))
                .where(AuditEntry.subject.in_(list(subjects)))
                .group_by(AuditEntry.subject)
            )
            rows = list(session.scalars(select(AuditEntry).where(AuditEntry.id.in_(newest))))
            session.expunge_all()
            return {row.subject: row for row in rows}

    # -- changing (each in one transaction, with its audit entry) ---------------------------------

    def save_draft(
        self,
        kind: str,
        key: str,
        files: Files,
        *,
        based_on: int | None,
        problems: list[str],
        now: datetime,
        change: Change,
    ) -> Draft:
        with self.database.session() as session:
            row = _draft_row(session, kind, key)
            if row is None:
                row = ContentDraft(kind=kind, key=key)
                session.add(row)
            row.files, row.checksum, row.based_on = dict(files), checksum(files), based_on
            row.problems, row.author, row.updated_at = {"problems": problems}, change.actor, now
            _log(session, change, now)
            session.flush()
            return _draft(row)

    def discard_draft(self, kind: str, key: str, *, now: datetime, change: Change) -> bool:
        with self.database.session() as session:
            row = _draft_row(session, kind, key)
            if row is None:
                return False
            session.delete(row)
            _log(session, change, now)
            return True

    def publish(
        self,
        kind: str,
        key: str,
        files: Files,
        *,
        comment: str,
        now: datetime,
        change: Change,
        drop_draft: bool,
    ) -> Version:
        """A new version, made live at once (and the draft it came from gone)."""
        return self.publish_all(
            [(kind, key, files, change)], comment=comment, now=now, drop_draft=drop_draft
        )[0]

    def publish_all(
        self,
        items: Iterable[tuple[str, str, Files, Change]],
        *,
        comment: str,
        now: datetime,
        drop_draft: bool = False,
    ) -> list[Version]:
        """New versions of items (kind, key, files, change), made live in one transaction: all of them
        or none. An import of a set of files that belong together (flows and the texts they speak) is
        never seen half done, by a console or by another process importing the same set."""
        stored = []
        with self.database.session() as session:
            for kind, key, files, change in items:
                latest = session.scalar(
                    select(func.max(ContentVersion.version)).where(
                        ContentVersion.kind == kind, ContentVersion.key == key
                    )
                )
                row = ContentVersion(
                    kind=kind,
                    key=key,
                    version=(latest or 0) + 1,
                    files=dict(files),
                    checksum=checksum(files),
                    author=change.actor,
                    comment=comment,
                    created_at=now,
                )
                session.add(row)
                session.flush()
                _point(session, kind, key, row.version, change.actor, now)
                if drop_draft and (draft := _draft_row(session, kind, key)) is not None:
                    session.delete(draft)
                _log(session, Change(**{**change.__dict__, "after": f"v{row.version}"}), now)
                stored.append(_version(row))
        return stored

    def copy_in(self, live: Iterable[Version], drafts: Iterable[Draft]) -> None:
        """Into an empty store (a test call's sandbox): these versions, live, under their own numbers,
        and these drafts. No audit entry: a copy of another store's content is not a change to it."""
        with self.database.session() as session:
            for version in live:
                session.add(
                    ContentVersion(
                        kind=version.kind,
                        key=version.key,
                        version=version.version,
                        files=dict(version.files),
                        checksum=version.checksum,
                        author=version.author,
                        comment=version.comment,
                        created_at=version.created_at,
                    )
                )
                session.flush()
                _point(
                    session, version.kind, version.key, version.version, version.author, version.created_at
                )
            for draft in drafts:
                session.add(
                    ContentDraft(
                        kind=draft.kind,
                        key=draft.key,
                        files=dict(draft.files),
                        checksum=draft.checksum,
                        based_on=draft.based_on,
                        problems={"problems": list(draft.problems)},
                        author=draft.author,
                        updated_at=draft.updated_at,
                    )
                )

    def make_live(self, kind: str, key: str, version: int, *, now: datetime, change: Change) -> None:
        with self.database.session() as session:
            _point(session, kind, key, version, change.actor, now)
            _log(session, change, now)

    def record(self, change: Change, now: datetime) -> None:
        """An audit entry for a change made elsewhere (or refused)."""
        with self.database.session() as session:
            _log(session, change, now)

    # -- the messaging switch ---------------------------------------------------------------------

    def switch(self) -> MessagingSwitch | None:
        """The switch in force (the newest row), or None when nobody ever touched it."""
        with self.database.session() as session:
            row = session.scalar(select(MessagingSwitch).order_by(MessagingSwitch.id.desc()).limit(1))
            if row is not None:
                session.expunge(row)
            return row

    def set_switch(self, paused: bool, *, reason: str, now: datetime, change: Change) -> None:
        with self.database.session() as session:
            session.add(MessagingSwitch(paused=paused, at=now, actor=change.actor, reason=reason))
            _log(session, change, now)


def _point(session: Session, kind: str, key: str, version: int, actor: str, now: datetime) -> None:
    row = session.get(ContentLive, (kind, key))
    if row is None:
        session.add(ContentLive(kind=kind, key=key, version=version, changed_at=now, changed_by=actor))
    else:
        row.version, row.changed_at, row.changed_by = version, now, actor


def _log(session: Session, change: Change, now: datetime) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor=change.actor,
            action=change.action,
            subject=change.subject,
            before=change.before,
            after=change.after,
            detail=dict(change.detail or {}),
        )
    )


def _draft_row(session: Session, kind: str, key: str) -> ContentDraft | None:
    return session.scalar(select(ContentDraft).where(ContentDraft.kind == kind, ContentDraft.key == key))


def _version(row: ContentVersion) -> Version:
    return Version(
        row.kind, row.key, row.version, dict(row.files), row.checksum, row.author, row.comment, row.created_at
    )


def _draft(row: ContentDraft) -> Draft:
    return Draft(
        row.kind,
        row.key,
        dict(row.files),
        row.checksum,
        row.based_on,
        list((row.problems or {}).get("problems", [])),
        row.author,
        row.updated_at,
    )

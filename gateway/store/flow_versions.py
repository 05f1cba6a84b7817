"""Published flow versions in the database: the rows `deflect flows publish` writes and every process's
flow registry reads (the newest per flow id is live). Text in, text out: parsing is the flows' job."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from gateway.store.db import Database
from gateway.store.models import FlowVersion


@dataclass(frozen=True)
class PublishedText:
    flow_id: str
    version: int
    source: str


class FlowVersions:
    """The `PublishedFlows` a `FlowRegistry` reads, and the writes of publishing."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def generation(self) -> int | None:
        """Changes whenever anything is published (the newest row's id)."""
        with self.database.session() as session:
            return session.scalar(select(func.max(FlowVersion.id)))

    def newest(self) -> list[PublishedText]:
        """The live text of every published flow."""
        with self.database.session() as session:
            rows = session.execute(
                select(FlowVersion.flow_id, FlowVersion.version, FlowVersion.source).where(
                    FlowVersion.id.in_(select(func.max(FlowVersion.id)).group_by(FlowVersion.flow_id))
                )
            ).all()
        return [PublishedText(flow_id, version, source) for flow_id, version, source in rows]

    def source(self, flow_id: str, version: int) -> str | None:
        with self.database.session() as session:
            return session.scalar(
                select(FlowVersion.source).where(
                    FlowVersion.flow_id == flow_id, FlowVersion.version == version
                )
            )

    def latest(self, flow_id: str, count: int) -> list[PublishedText]:
        """The `count` newest versions of one flow, newest first."""
        with self.database.session() as session:
            rows = session.scalars(
                select(FlowVersion)
                .where(FlowVersion.flow_id == flow_id)
                .order_by(FlowVersion.version.desc())
                .limit(count)
            ).all()
            return [PublishedText(row.flow_id, row.version, row.source) for row in rows]

    def add(self, flow_id: str, at_least: int, source: str, *, by: str, now: datetime) -> FlowVersion:
        """Store `source` as the next version of `flow_id`, numbered above every published one and
        above `at_least` (the file's own version)."""
        with self.database.session() as session:
            latest = (
                session.scalar(select(func.max(FlowVersion.version)).where(FlowVersion.flow_id == flow_id))
                or 0
            )
            row = FlowVersion(
                flow_id=flow_id,
                version=max(latest, at_least) + 1,
                source=source,
                checksum=hashlib.sha256(source.encode()).hexdigest(),
                published_by=by,
                published_at=now,
            )
            session.add(row)
        return row

"""The flows in service in this process: compiled once, reloaded cheaply when a newer version is published.

Flow files in `ivr_flows/` are the starting point; a version published to the database (by
`deflect flows publish`, later by the admin console) replaces the file of the same flow id. Every
process checks for a newer publication at most every few seconds with one small query, so no restart
is needed, and no webhook parses YAML. A call keeps the version it started with until it ends.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from gateway.flows.loader import FlowError, FlowSet, load_flows, parse_flow
from gateway.flows.model import Flow
from gateway.store.db import Database
from gateway.store.models import FlowVersion

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 5.0


class FlowRegistry:
    def __init__(
        self,
        flows_dir: Path,
        database: Database,
        *,
        check_interval: float = CHECK_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.flows_dir = flows_dir
        self.database = database
        self.check_interval = check_interval
        self.clock = clock
        self._files = load_flows(flows_dir)  # a broken flow file stops start-up, with its line
        self._lock = threading.Lock()
        self._flows = self._files
        self._generation: int | None = None
        self._checked_at = float("-inf")
        self._versions: dict[tuple[str, int], Flow] = {(f.id, f.version): f for f in self._files}
        self._only: Flow | None = None

    def serve_only(self, flow: Flow) -> None:
        """Answer every number with `flow`, in this process only, whatever the files and publications
        say: how `deflect simulate --flow FILE` plays a flow without publishing it."""
        only = flow.model_copy(update={"default": True})
        with self._lock:
            self._only = only
            self._flows = FlowSet([only])
            self._versions[(only.id, only.version)] = only

    def current(self) -> FlowSet:
        """The flows in service now (a newer publication is picked up within `check_interval`)."""
        now = self.clock()
        if self._only is None and now - self._checked_at >= self.check_interval:
            with self._lock:
                if now - self._checked_at >= self.check_interval:
                    self._checked_at = now
                    self._refresh()
        return self._flows

    def version(self, flow_id: str, version: int) -> Flow:
        """The exact version a call started on (loaded from the database if this process has not
        seen it); raises KeyError when it does not exist."""
        key = (flow_id, version)
        if key not in self._versions:
            with self.database.session() as session:
                source = session.scalar(
                    select(FlowVersion.source).where(
                        FlowVersion.flow_id == flow_id, FlowVersion.version == version
                    )
                )
            if source is None:
                raise KeyError(key)
            self._versions[key] = _with_version(parse_flow(source, f"{flow_id} v{version}"), version)
        return self._versions[key]

    def _refresh(self) -> None:
        try:
            with self.database.session() as session:
                generation = session.scalar(select(func.max(FlowVersion.id)))
                if generation == self._generation:
                    return
                newest = session.execute(
                    select(FlowVersion.flow_id, FlowVersion.version, FlowVersion.source).where(
                        FlowVersion.id.in_(select(func.max(FlowVersion.id)).group_by(FlowVersion.flow_id))
                    )
                ).all()
        except Exception as exc:  # the database is down: keep serving what we have
            log.warning(
                "flow versions not checked (%s); keeping the flows in service", exc.__class__.__name__
            )
            return
        published = {}
        for flow_id, version, source in newest:
            flow = self._versions.get((flow_id, version))
            if flow is None:
                flow = _with_version(parse_flow(source, f"{flow_id} v{version}"), version)
                self._versions[(flow_id, version)] = flow
            published[flow_id] = flow
        try:
            flows = FlowSet(
                [published.get(f.id, f) for f in self._files]
                + [f for i, f in published.items() if i not in {x.id for x in self._files}]
            )
        except FlowError as exc:
            log.error("published flows do not fit together; keeping the flows in service: %s", exc)
            return
        self._flows, self._generation = flows, generation
        log.info("flows in service: %s", ", ".join(f"{f.id} v{f.version}" for f in flows))


def _with_version(flow: Flow, version: int) -> Flow:
    return flow if flow.version == version else flow.model_copy(update={"version": version})


def publish(
    database: Database, source: str, *, by: str, now: datetime, source_name: str = "<published>"
) -> FlowVersion:
    """Validate a flow's text and store it as the next version of its flow id."""
    flow = parse_flow(source, source_name)  # raises FlowError with file, line and step
    with database.session() as session:
        latest = (
            session.scalar(select(func.max(FlowVersion.version)).where(FlowVersion.flow_id == flow.id)) or 0
        )
        # Published versions count up from the file's own version, so version 1 of a file is never
        # mistaken for a published text of the same number.
        row = FlowVersion(
            flow_id=flow.id,
            version=max(latest, flow.version) + 1,
            source=source,
            checksum=hashlib.sha256(source.encode()).hexdigest(),
            published_by=by,
            published_at=now,
        )
        session.add(row)
    log.info("flow %s published as version %d by %s", row.flow_id, row.version, by)
    return row


def rollback(
    database: Database, flow_id: str, *, by: str, now: datetime, file_source: str | None = None
) -> FlowVersion:
    """Publish the previous version's text again, as a new version (history is never rewritten).
    With one published version, "previous" is the flow file it replaced (`file_source`)."""
    with database.session() as session:
        rows = session.scalars(
            select(FlowVersion)
            .where(FlowVersion.flow_id == flow_id)
            .order_by(FlowVersion.version.desc())
            .limit(2)
        ).all()
    if len(rows) >= 2:
        return publish(database, rows[1].source, by=by, now=now, source_name=f"{flow_id} v{rows[1].version}")
    if len(rows) == 1 and file_source is not None:
        return publish(database, file_source, by=by, now=now, source_name=f"{flow_id} (file)")
    raise LookupError(f"flow '{flow_id}' has no earlier version to roll back to")


def file_source(flows_dir: Path, flow_id: str) -> str | None:
    """The text of the flow file that defines `flow_id`, if any."""
    from gateway.flows.loader import flow_files

    for path in flow_files(flows_dir):
        text = path.read_text(encoding="utf-8")
        try:
            if parse_flow(text, str(path)).id == flow_id:
                return text
        except FlowError:
            continue
    return None

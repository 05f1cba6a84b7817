"""Publishing flows: a flow file's text is validated and stored as the next version, live in every
process within seconds (`gateway.flows.registry`); a rollback publishes an earlier text again."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from gateway.flows.loader import FlowError, flow_files, parse_flow
from gateway.store.flow_versions import FlowVersions
from gateway.store.models import FlowVersion

log = logging.getLogger(__name__)


def publish(
    versions: FlowVersions, source: str, *, by: str, now: datetime, source_name: str = "<published>"
) -> FlowVersion:
    """Validate a flow's text and store it as the next version of its flow id."""
    flow = parse_flow(source, source_name)  # raises FlowError with file, line and step
    # Published versions count up from the file's own version, so version 1 of a file is never
    # mistaken for a published text of the same number.
    row = versions.add(flow.id, flow.version, source, by=by, now=now)
    log.info("flow %s published as version %d by %s", row.flow_id, row.version, by)
    return row


def rollback(
    versions: FlowVersions, flow_id: str, *, by: str, now: datetime, file_source: str | None = None
) -> FlowVersion:
    """Publish the previous version's text again, as a new version (history is never rewritten).
    With one published version, "previous" is the flow file it replaced (`file_source`)."""
    rows = versions.latest(flow_id, 2)
    if len(rows) >= 2:
        previous = rows[1]
        return publish(
            versions, previous.source, by=by, now=now, source_name=f"{flow_id} v{previous.version}"
        )
    if len(rows) == 1 and file_source is not None:
        return publish(versions, file_source, by=by, now=now, source_name=f"{flow_id} (file)")
    raise LookupError(f"flow '{flow_id}' has no earlier version to roll back to")


def file_source(flows_dir: Path, flow_id: str) -> str | None:
    """The text of the flow file that defines `flow_id`, if any."""
    for path in flow_files(flows_dir):
        text = path.read_text(encoding="utf-8")
        try:
            if parse_flow(text, str(path)).id == flow_id:
                return text
        except FlowError:
            continue
    return None

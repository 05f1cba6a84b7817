"""The flows in service in this process: compiled once, reloaded cheaply when a newer version is published.

Flow files in `ivr_flows/` are the starting point; a published version (`gateway.content.flows`, kept
by whatever implements `PublishedFlows`: the database, `gateway.store.flow_versions`) replaces the file
of the same flow id. Every process checks for a newer publication at most every few seconds with one
small query, so no restart is needed, and no webhook parses YAML. A call keeps the version it started
with until it ends. No database here: the published texts come through the protocol.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from gateway.flows.loader import FlowError, FlowSet, load_flows, parse_flow
from gateway.flows.model import Flow

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 5.0


class PublishedText(Protocol):
    @property
    def flow_id(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def source(self) -> str: ...


class PublishedFlows(Protocol):
    """Where published flow texts are kept."""

    def generation(self) -> int | None:
        """A value that changes whenever anything is published."""

    def newest(self) -> Sequence[PublishedText]:
        """The live text of every published flow."""

    def source(self, flow_id: str, version: int) -> str | None:
        """One version's text, or None."""


class FlowRegistry:
    def __init__(
        self,
        flows_dir: Path,
        published: PublishedFlows,
        *,
        check_interval: float = CHECK_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.flows_dir = flows_dir
        self.published = published
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
            source = self.published.source(flow_id, version)
            if source is None:
                raise KeyError(key)
            self._versions[key] = _with_version(parse_flow(source, f"{flow_id} v{version}"), version)
        return self._versions[key]

    def _refresh(self) -> None:
        try:
            generation = self.published.generation()
            if generation == self._generation:
                return
            newest = self.published.newest()
        except Exception as exc:  # the database is down: keep serving what we have
            log.warning(
                "flow versions not checked (%s); keeping the flows in service", exc.__class__.__name__
            )
            return
        published = {}
        for text in newest:
            key = (text.flow_id, text.version)
            flow = self._versions.get(key)
            if flow is None:
                flow = _with_version(parse_flow(text.source, f"{text.flow_id} v{text.version}"), text.version)
                self._versions[key] = flow
            published[text.flow_id] = flow
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

"""The content this process serves: every item's live version, compiled once, followed within seconds.

Every few seconds (at most `check_interval`) one small query reads the live pointers; an item whose
pointer moved is compiled (once per version, then cached) and served to new calls. A call keeps the
versions it started on (`flow(flow_id, version)`, and the texts it pinned: `sms(locale, pins)`,
`voice(locale, pins)`), so a publish never changes a call in progress. Drafts are served only where
asked for: test calls from allow-listed numbers and the simulator (`drafts=True`); a draft with
problems is never served, its live version is.

Nothing here reads files: the store is the one source of truth (files are imported into it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.content.kinds import Kind
from gateway.flows.loader import FlowError, FlowSet, Problem
from gateway.flows.model import Flow
from gateway.flows.voice_text_set import VoiceTextError, VoiceTextSet
from gateway.flows.voice_texts import VoiceTexts
from gateway.messaging.templates import TemplateSet
from gateway.store.content import ContentStore

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 2.0  # a publish reaches every process within this (plus one query)
DRAFT = 0  # the version number a call pins when it plays drafts (versions count from 1)
Pins = Mapping[str, int]  # what a call pinned: "<kind>/<key>" -> version ("sms/ru-RU": 3)


def pin(kind: str, key: str) -> str:
    return f"{kind}/{key}"


class ContentRegistry:
    def __init__(
        self,
        store: ContentStore,
        kinds: Mapping[str, Kind],
        *,
        check_interval: float = CHECK_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.kinds = dict(kinds)
        self.check_interval = check_interval
        self.monotonic = monotonic  # an interval timer for the checks, not the clock of "now"
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._pointers: dict[tuple[str, str], int] | None = None
        self._compiled: dict[tuple[str, str, int], Any] = {}
        self._flows: FlowSet | None = None
        self._templates = TemplateSet({})
        self._voice: VoiceTextSet | None = None
        self._only: FlowSet | None = None

    # -- what new calls get -----------------------------------------------------------------------

    def serve_only(self, flow: Flow) -> None:
        """Answer every number with `flow`, in this process only, whatever is published: how
        `deflect simulate --flow FILE` plays a file without publishing it."""
        only = flow.model_copy(update={"default": True})
        with self._lock:
            self._only = FlowSet([only])
            self._compiled[("flow", only.id, only.version)] = only

    def flows(self, *, drafts: bool = False) -> FlowSet:
        """The flows in service (with drafts over them, for test calls and the simulator)."""
        if self._only is not None:
            return self._only
        self._refresh_if_due()
        if self._flows is None:
            raise FlowError([])
        return self._with_drafts(self._flows) if drafts else self._flows

    def flows_if_any(self) -> FlowSet | list[Flow]:
        """The flows in service, or none yet (the database could not be read)."""
        try:
            return self.flows()
        except FlowError:
            return []

    def templates(self) -> TemplateSet:
        """The live SMS and chat texts of every locale."""
        self._refresh_if_due()
        return self._templates

    def voice_texts(self) -> VoiceTextSet | None:
        """The live voice texts of every locale (None: none are live)."""
        self._refresh_if_due()
        return self._voice

    def pins(self, locale: str, *, drafts: bool = False) -> dict[str, int]:
        """The text versions a new call of this locale pins: its SMS texts and the voice texts it will
        hear (its locale's, else its language's or English: `VoiceTextSet.texts_for`), each the live
        version or, for test calls, a valid draft of the call's own locale."""
        pinned = {}
        for kind in ("sms", "voice"):
            if kind not in self.kinds:
                continue
            key = self._voice_key(locale) if kind == "voice" else locale
            draft = self.store.draft(kind, locale) if drafts else None
            if draft is not None and not draft.problems:
                pinned[pin(kind, locale)] = DRAFT
            elif key is not None and (version := self.live_version(kind, key)) is not None:
                pinned[pin(kind, key)] = version
        return pinned

    def live_version(self, kind: str, key: str) -> int | None:
        self._refresh_if_due()
        return (self._pointers or {}).get((kind, key))

    # -- what a call in progress keeps ------------------------------------------------------------

    def flow(self, flow_id: str, version: int) -> Flow:
        """The exact version a call started on (DRAFT: the flow's draft now); KeyError if none."""
        flow: Flow = self._item("flow", flow_id, version)
        return flow

    def sms(self, locale: str, pins: Pins | None = None) -> TemplateSet:
        """A locale's SMS texts at the version a call pinned (none pinned: the live ones)."""
        version = (pins or {}).get(pin("sms", locale))
        if version is None:
            return self.templates()
        texts: TemplateSet = self._item("sms", locale, version)
        return texts

    def voice(self, locale: str, pins: Pins | None = None) -> VoiceTexts:
        """The voice texts a call of this locale hears: those it pinned, else the live ones."""
        for name, version in (pins or {}).items():
            kind, _, key = name.partition("/")
            if kind == "voice":
                try:
                    texts: VoiceTexts = self._item("voice", key, version)
                    return texts
                except Exception as exc:  # a draft discarded mid-call, the database down: live ones
                    log.warning(
                        "voice texts %s v%s not read (%s): the live ones", key, version, type(exc).__name__
                    )
                    break
        live = self.voice_texts()
        if live is None:
            raise VoiceTextError([Problem("voice texts", None, None, "no voice texts are live")])
        return live.texts_for(locale)

    # -- keeping up -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the live pointers now (a check that is not due yet is skipped by `_refresh_if_due`)."""
        with self._lock:
            self._checked_at = self.monotonic()
            self._refresh()

    def _refresh_if_due(self) -> None:
        now = self.monotonic()
        if now - self._checked_at >= self.check_interval:
            with self._lock:
                if now - self._checked_at >= self.check_interval:
                    self._checked_at = now
                    self._refresh()

    def _refresh(self) -> None:
        try:
            pointers = self.store.live_pointers()
        except Exception as exc:  # the database is down: keep serving what we have
            log.warning("content versions not checked (%s); keeping what is in service", type(exc).__name__)
            return
        if pointers == self._pointers:
            return
        try:
            flows = FlowSet(self._item(kind, key, v) for (kind, key), v in pointers.items() if kind == "flow")
            texts = TemplateSet.merge(
                self._item(kind, key, v) for (kind, key), v in pointers.items() if kind == "sms"
            )
            spoken = [self._item(kind, key, v) for (kind, key), v in pointers.items() if kind == "voice"]
        except FlowError as exc:
            log.error("the live flows do not fit together; keeping what is in service: %s", exc)
            return
        except Exception as exc:  # a version not read: tried again at the next check
            log.warning("content versions not read (%s); keeping what is in service", type(exc).__name__)
            return
        self._flows, self._templates, self._pointers = flows, texts, pointers
        self._voice = VoiceTextSet(spoken) if spoken else None
        served = ", ".join(f"{kind}:{key} v{v}" for (kind, key), v in sorted(pointers.items()))
        log.info("content in service: %s", served)

    def _item(self, kind: str, key: str, version: int) -> Any:
        if version == DRAFT:
            draft = self.store.draft(kind, key)
            if draft is None or draft.problems:
                raise KeyError((kind, key, "draft"))
            cache_key = (kind, key, -hash(draft.checksum))
            if cache_key not in self._compiled:
                self._compiled[cache_key] = self.kinds[kind].compile(key, draft.files, DRAFT)
            return self._compiled[cache_key]
        cache_key = (kind, key, version)
        if cache_key not in self._compiled:
            stored = self.store.version(kind, key, version)
            if stored is None:
                raise KeyError(cache_key)
            self._compiled[cache_key] = self.kinds[kind].compile(key, stored.files, version)
        return self._compiled[cache_key]

    def _voice_key(self, locale: str) -> str | None:
        """Which locale's voice texts a call of this locale hears."""
        live = self.voice_texts()
        return live.texts_for(locale).locale if live is not None else None

    def _with_drafts(self, live: FlowSet) -> FlowSet:
        """The live flows with each valid flow draft in its flow's place (or added)."""
        drafted: dict[str, Flow] = {}
        for draft in self.store.drafts():
            if draft.kind == "flow" and not draft.problems:
                drafted[draft.key] = self._item("flow", draft.key, DRAFT)
        if not drafted:
            return live
        try:
            return FlowSet([drafted.pop(flow.id, flow) for flow in live] + list(drafted.values()))
        except FlowError as exc:
            log.warning(
                "the flow drafts do not fit with the live flows; test calls get the live ones: %s", exc
            )
            return live


@dataclass(frozen=True)
class LiveVoiceTexts:
    """The dialogue's voice texts, followed live (`gateway.flows.voice_text_set.VoiceTextSource`)."""

    registry: ContentRegistry

    def texts_for(self, locale: str, pins: Pins | None = None) -> VoiceTexts:
        return self.registry.voice(locale, pins)

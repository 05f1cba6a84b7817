"""Where a call is run: each voice webhook loads the call's state, asks the flow engine what to do,
keeps the new state and records what happened. No Flask here; the web layer passes typed requests
and the URLs to use.

The wait loop is the hot path (Twilio requests it again every time the hold music ends): one Redis
read, one pipelined write only when the state or the queue's figures changed, no database round trip
unless something worth recording happened, and eligibility for the offer is only looked at when the
offer is due.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from twilio.twiml.voice_response import VoiceResponse

from gateway.calls.queue_stats import QueueStatsStore
from gateway.calls.request import VoiceRequest
from gateway.calls.state_store import CallStateStore
from gateway.clock import Clock
from gateway.content.registry import ContentRegistry
from gateway.deflection.twiml import DeflectionUrls
from gateway.events import Event
from gateway.flows import engine
from gateway.flows.model import BranchStep, Flow, Offer
from gateway.flows.schedule import is_open
from gateway.flows.state import CallState, Context, OfferChannels, Outcome
from gateway.flows.wait import current_offer, offer_due
from gateway.phone import parse_number
from gateway.store.call_log import CallLog

log = logging.getLogger(__name__)

FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class StateLost(LookupError):
    """The call's state expired or Redis lost it; the caller continues from the hold experience."""


class Deflection(Protocol):
    """The deflection layer, as the voice service sees it: the offer decision, and the dialogue once a
    queued caller accepts the offer (`gateway.deflection.dialogue.Dialogue`)."""

    def offer_refusal(self, flow: Flow, state: CallState, offer: Offer, now: float) -> str | None: ...

    def offer_channels(self, flow: Flow, offer: Offer) -> OfferChannels: ...

    def prepare(self, flow: Flow, state: CallState) -> None: ...

    def accept(self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls) -> Outcome: ...

    def step(
        self, name: str, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls, digits: str | None
    ) -> Outcome: ...

    def leaving_deflected(self, state: CallState) -> bool: ...

    def in_progress(self, state: CallState) -> bool: ...


class VoiceService:
    def __init__(
        self,
        content: ContentRegistry,
        states: CallStateStore,
        call_log: CallLog,
        queue_stats: QueueStatsStore,
        deflection: Deflection,
        clock: Clock,
        *,
        test_callers: frozenset[str] = frozenset(),
    ) -> None:
        self.content = content
        # Calls from these numbers play the drafts (flows and texts) instead of the live versions; the
        # simulator sets `play_drafts` to play them for every call it makes.
        self.test_callers = test_callers
        self.play_drafts = False
        self.states = states
        self.call_log = call_log
        self.queue_stats = queue_stats
        self.deflection = deflection
        self.clock = clock

    # -- entry ------------------------------------------------------------------------------------

    def incoming(self, req: VoiceRequest, urls: DeflectionUrls) -> VoiceResponse:
        """A call comes in: pick the flow by the called number and run its entry step."""
        called = _parse_called(req.called)
        drafts = self.play_drafts or self._test_call(req)
        flow = self.content.flows(drafts=drafts).for_number(called.e164 if called else (req.called or ""))
        caller = parse_number(req.caller, default_region=home_region(flow))
        state = CallState.start(
            flow,
            call_sid=req.call_sid,
            called=called.e164 if called else "",
            caller=caller.e164 if caller else None,
            caller_region=caller.region if caller else None,
            caller_number_type=caller.number_type if caller else None,
        )
        if req.stir_verstat:
            state.deflection.stir_verstat = req.stir_verstat
        state.content = self.content.pins(flow.locale, drafts=drafts)
        now = self.clock.time()
        outcome = engine.run_step(flow, flow.entry, state, self._context(flow, state, req, now), urls)
        started = Event(
            "call.started",
            {
                "flow_id": flow.id,
                "flow_version": flow.version,
                "caller_known": caller is not None,
                "caller_region": state.caller_region,
                "caller_number_type": state.caller_number_type,
                "stir_verstat": req.stir_verstat,
            },
        )
        self._keep(
            outcome,
            now,
            [started],
            call={
                "caller": state.caller,
                "called": state.called,
                "flow_id": flow.id,
                "flow_version": flow.version,
                "locale": flow.locale,
                "status": "in-progress",
                "started_at": datetime.fromtimestamp(now, UTC),
            },
        )
        return outcome.twiml

    # -- the flow's steps -------------------------------------------------------------------------

    def step(self, req: VoiceRequest, step_id: str, urls: DeflectionUrls) -> VoiceResponse:
        state, flow = self._load(req)
        now = self.clock.time()
        outcome = engine.run_step(flow, step_id, state, self._context(flow, state, req, now), urls)
        return self._keep(outcome, now)

    def menu(self, req: VoiceRequest, step_id: str, urls: DeflectionUrls) -> VoiceResponse:
        state, flow = self._load(req)
        now = self.clock.time()
        outcome = engine.handle_menu_input(
            flow, step_id, state, self._context(flow, state, req, now), urls, req.digits, req.speech
        )
        return self._keep(outcome, now)

    def dial_result(self, req: VoiceRequest, step_id: str, urls: DeflectionUrls) -> VoiceResponse:
        state, flow = self._load(req)
        now = self.clock.time()
        outcome = engine.transfer_result(
            flow, step_id, state, self._context(flow, state, req, now), urls, req.dial_status or "failed"
        )
        return self._keep(outcome, now)

    # -- the queue --------------------------------------------------------------------------------

    def wait(self, req: VoiceRequest, urls: DeflectionUrls) -> VoiceResponse:
        """One pass of the wait loop (Twilio's waitUrl)."""
        state, flow, stored = self._load_stored(req)
        now = self.clock.time()
        ctx = self._context(flow, state, req, now, with_queues=False)
        if self.deflection.in_progress(state):  # an SMS is on its way: keep polling for it
            return self._keep(self.deflection.step("sending", flow, state, ctx, urls, None), now)
        offer = current_offer(flow, state)
        if offer is not None and not state.deflection.prepared:
            self._prepare(flow, state)
        refused: list[Event] = []
        if (
            offer is not None
            and _worth_asking(state, now)
            and offer_due(offer, state, replace(ctx, offer_allowed=True))
        ):
            if self._may_offer(flow, state, offer, now, refused):
                ctx = replace(
                    ctx, offer_allowed=True, offer_channels=self.deflection.offer_channels(flow, offer)
                )
        outcome = engine.wait_loop(flow, state, ctx, urls)
        queue = outcome.state.queue
        stats = None
        if req.queue_sid and queue:

            def stats(pipe: Any) -> None:
                self.queue_stats.observe(queue, req.queue_size, req.avg_queue_time, now, pipeline=pipe)

        return self._keep(outcome, now, refused, also=stats, stored=stored)

    def _prepare(self, flow: Flow, state: CallState) -> None:
        """Once per call, on its first pass of a wait loop with an offer: the deflection layer starts
        what the offer will need and takes time (in a job: nothing here waits on the network)."""
        state.deflection.prepared = True
        try:
            self.deflection.prepare(flow, state)
        except Exception:
            log.exception("could not prepare the offer; it is asked for again when due")

    def _may_offer(
        self, flow: Flow, state: CallState, offer: Offer, now: float, refused: list[Event]
    ) -> bool:
        """Eligibility, looked up only when the offer is due (database and Redis). A refusal about the
        caller holds for the call; one about messaging (paused, closed, budget) is asked again a
        minute later; each new reason is recorded once. When it cannot be looked up (the database is
        down), there is no offer on this pass and the caller keeps the whole hold experience."""
        try:
            reason = self.deflection.offer_refusal(flow, state, offer, now)
        except Exception:
            log.exception("eligibility could not be checked; no offer on this pass")
            return False
        if reason is not None and reason != state.deflection.refused:
            refused.append(Event("offer.refused", {"reason": reason, "queue": state.queue}))
        state.deflection.refused = reason
        state.deflection.refused_at = now
        return reason is None

    def offer(self, req: VoiceRequest, urls: DeflectionUrls) -> VoiceResponse:
        """The caller answered the offer (the Gather inside the wait loop)."""
        state, flow = self._load(req)
        now = self.clock.time()
        ctx = self._context(flow, state, req, now, with_queues=False)
        outcome = engine.handle_offer_input(flow, state, ctx, urls, req.digits)
        if outcome.offer_accepted:
            accepted = self.deflection.accept(flow, outcome.state, ctx, urls)
            outcome = Outcome(accepted.twiml, accepted.state, [*outcome.events, *accepted.events])
        return self._keep(outcome, now)

    def deflection_step(self, name: str, req: VoiceRequest, urls: DeflectionUrls) -> VoiceResponse:
        """consent, number_entry, number_confirm, sending: the deflection dialogue, inside the queue."""
        state, flow = self._load(req)
        now = self.clock.time()
        ctx = self._context(flow, state, req, now, with_queues=False)
        return self._keep(self.deflection.step(name, flow, state, ctx, urls, req.digits), now)

    def queue_result(self, req: VoiceRequest, urls: DeflectionUrls) -> VoiceResponse:
        """The caller left the queue (the <Enqueue> action), for any of Twilio's QueueResults."""
        state, flow = self._load(req)
        now = self.clock.time()
        result = req.queue_result or "error"
        deflected = result == "leave" and self.deflection.leaving_deflected(state)
        outcome = engine.enqueue_result(
            flow, state, self._context(flow, state, req, now), urls, result, deflected=deflected
        )
        outcome_name = "deflected" if deflected else _QUEUE_OUTCOMES.get(result)
        return self._keep(outcome, now, call={"outcome": outcome_name} if outcome_name else None)

    # -- status -----------------------------------------------------------------------------------

    def status(self, req: VoiceRequest) -> None:
        """Call status callback: record how the call ended (state may already be gone)."""
        now = self.clock.time()
        status = req.call_status or "unknown"
        call: dict[str, Any] = {"status": status}
        if status in FINAL_CALL_STATUSES:
            call["ended_at"] = datetime.fromtimestamp(now, UTC)
        self.call_log.record(
            req.call_sid,
            [Event("call.status", {"status": status, "duration": req.call_duration})],
            now,
            call=call,
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _load(self, req: VoiceRequest) -> tuple[CallState, Flow]:
        state, flow, _ = self._load_stored(req)
        return state, flow

    def _load_stored(self, req: VoiceRequest) -> tuple[CallState, Flow, bytes]:
        """The call's state, its flow, and the bytes the state was stored as (`_keep(stored=...)`)."""
        loaded = self.states.load_stored(req.call_sid)
        if loaded is None:
            raise StateLost(req.call_sid)
        state, stored = loaded
        return state, self.content.flow(state.flow_id, state.flow_version), stored

    def _test_call(self, req: VoiceRequest) -> bool:
        if not self.test_callers:  # production, usually: no parsing on every incoming call
            return False
        caller = parse_number(req.caller)
        return caller is not None and caller.e164 in self.test_callers

    def _context(
        self, flow: Flow, state: CallState, req: VoiceRequest, now: float, *, with_queues: bool = True
    ) -> Context:
        return Context(
            now=now,
            open=is_open(flow.hours, now),
            queue_position=req.queue_position,
            queue_size=req.queue_size,
            avg_wait_seconds=req.avg_queue_time,
            offer_allowed=False,
            queues=self.queue_stats.all() if with_queues and _uses_queue_stats(flow) else {},
        )

    def _keep(
        self,
        outcome: Outcome,
        now: float,
        extra_events: list[Event] | None = None,
        call: dict[str, Any] | None = None,
        also: Callable[[Any], None] | None = None,
        stored: bytes | None = None,
    ) -> VoiceResponse:
        """Keep the new state (and `also` other Redis writes, in the same round trip), record events.
        `stored`: the bytes the state was loaded from; a state that did not change is not written."""
        state = outcome.state
        pipe = self.states.redis.pipeline(transaction=False)
        self.states.save(state, pipe, unless=stored)
        if also is not None:
            also(pipe)
        if len(pipe):  # a wait-loop pass that changed nothing has nothing to write
            pipe.execute()  # raises if Redis is down: the web layer then plays the hold
        events = [*(extra_events or []), *outcome.events]
        queued = next((e for e in events if e.kind == "queue.enqueued"), None)
        if queued is not None:
            call = {**(call or {}), "queue": queued.data.get("queue")}
        self.call_log.record(state.call_sid, events, now, call=call)
        return outcome.twiml


TEMPORARY_REFUSALS = frozenset(
    {
        "messaging_paused",
        "chat_closed",
        "chat_backlog",
        "daily_budget_spent",
        "range_paused",
        "line_type_pending",
    }
)
RECHECK_SECONDS = 60


def _worth_asking(state: CallState, now: float) -> bool:
    reason = state.deflection.refused
    if reason is None:
        return True
    return reason in TEMPORARY_REFUSALS and now - state.deflection.refused_at >= RECHECK_SECONDS


_QUEUE_OUTCOMES = {
    "bridged": "answered",
    "hangup": "abandoned",
    "queue-full": "queue-full",
    "error": "queue-error",
    "system-error": "queue-error",
}


# The numbers that are called are the installation's own few: each parsed once (`phonenumbers` takes
# about 0.1 ms a number; callers' numbers are all different and are parsed on every call).
_parse_called = functools.lru_cache(maxsize=256)(parse_number)


def home_region(flow: Flow) -> str | None:
    """The region a number written without a country code belongs to, for this flow's callers."""
    return flow.home_regions[0] if flow.home_regions else None


def _uses_queue_stats(flow: Flow) -> bool:
    """Whether a branch of this flow looks at queue figures (only then are they read from Redis)."""
    return any(
        rule.queue_size_at_least is not None or rule.ewt_seconds_at_least is not None
        for step in flow.steps.values()
        if isinstance(step, BranchStep)
        for rule in step.when
    )

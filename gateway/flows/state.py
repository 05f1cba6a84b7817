"""The values the flow engine works on: call state, request context, URLs, events and outcomes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

from twilio.twiml.voice_response import VoiceResponse

from gateway.events import Event
from gateway.flows.model import Flow


@dataclass(kw_only=True)
class CallState:
    """Where a call is in its flow; kept between webhooks (in Redis, with a TTL: it can be lost)."""

    call_sid: str
    flow_id: str
    flow_version: int
    caller: str | None
    caller_region: str | None = None
    caller_number_type: str | None = None
    called: str
    locale: str
    step: str
    path: list[str] = field(default_factory=list)
    choices: list[dict[str, str]] = field(default_factory=list)
    retries: dict[str, int] = field(default_factory=dict)
    queue: str | None = None
    enqueued_at: float | None = None
    offers_made: int = 0
    last_offer_at: float | None = None
    last_announce_at: float | None = None
    offer_declined: bool = False
    # The last place in the queue Twilio told us (it sends QueuePosition only to the waitUrl, not to
    # the Gathers of the offer and consent inside the queue).
    queue_position: int | None = None
    # The deflection layer's own state (stage of the consent dialogue, number, outbox id...).
    deflection: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        flow: Flow,
        *,
        call_sid: str,
        called: str,
        caller: str | None,
        caller_region: str | None = None,
        caller_number_type: str | None = None,
    ) -> CallState:
        """The state of a new call, about to run the flow's entry step."""
        return cls(
            call_sid=call_sid,
            flow_id=flow.id,
            flow_version=flow.version,
            caller=caller,
            caller_region=caller_region,
            caller_number_type=caller_number_type,
            called=called,
            locale=flow.locale,
            step=flow.entry,
        )

    def copy(self) -> CallState:
        """A deep copy, so engine functions never change the state they were given."""
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, owned: bool = False) -> CallState:
        """Rebuild from to_dict(); unknown keys (from a newer release) are ignored. `owned`: the data
        is the caller's to give away (freshly decoded JSON), so it is not copied."""
        known = {f.name for f in fields(cls)}
        values = {k: (v if owned else copy.deepcopy(v)) for k, v in data.items() if k in known}
        missing = {
            "call_sid",
            "flow_id",
            "flow_version",
            "caller",
            "called",
            "locale",
            "step",
        } - values.keys()
        if missing:
            raise ValueError(f"call state lacks {', '.join(sorted(missing))}")
        return cls(**values)

    def seconds_in_queue(self, now: float) -> float:
        """How long the caller has been waiting in the current queue (0 if not queued)."""
        return max(0.0, now - self.enqueued_at) if self.enqueued_at is not None else 0.0


@dataclass(frozen=True)
class QueueStats:
    """What Twilio says about one queue (CurrentSize, AverageWaitTime)."""

    size: int | None = None
    avg_wait_seconds: int | None = None


@dataclass(frozen=True)
class OfferChannels:
    """The messengers this caller can really be offered (the flow's, that are configured), and how
    the flow's language says them ("WhatsApp или Телеграм"): the offer prompt's {channels}."""

    ids: tuple[str, ...]
    said: str


@dataclass(frozen=True)
class Context:
    """What the web layer knows at this request: the clock, hours, queue figures, eligibility."""

    now: float
    open: bool = True
    queue_position: int | None = None
    queue_size: int | None = None
    avg_wait_seconds: int | None = None
    offer_allowed: bool = False
    offer_channels: OfferChannels | None = None  # set with offer_allowed
    queues: Mapping[str, QueueStats] = field(default_factory=dict)

    def stats(self, queue: str | None) -> QueueStats:
        """Figures of a named queue, or of the caller's own queue when `queue` is None."""
        if queue is None:
            return QueueStats(self.queue_size, self.avg_wait_seconds)
        return self.queues.get(queue, QueueStats())


class Urls(Protocol):
    """The webhook URLs of the web layer; the engine never builds a URL itself."""

    def step(self, step_id: str) -> str:
        """Runs a step of the call's flow."""

    def menu(self, step_id: str) -> str:
        """Gather action of a menu (also requested without Digits when the caller said nothing)."""

    def wait(self) -> str:
        """The Enqueue waitUrl (the wait loop)."""

    def enqueue_action(self) -> str:
        """The Enqueue action, requested with QueueResult when the caller leaves the queue."""

    def offer(self) -> str:
        """Gather action of the offer inside the wait loop."""

    def dial_action(self, step_id: str) -> str:
        """The Dial action of a transfer step, requested with DialCallStatus."""


@dataclass
class Outcome:
    """What an engine function decided: the TwiML to return, the new state, what happened."""

    twiml: VoiceResponse
    state: CallState
    events: list[Event] = field(default_factory=list)
    handover: bool = False

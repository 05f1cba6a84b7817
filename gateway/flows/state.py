"""The values the flow engine works on: call state, request context, URLs, events and outcomes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol

from twilio.twiml.voice_response import VoiceResponse

from gateway.events import Event
from gateway.flows.model import Flow

# Where the deflection dialogue is: consent -> sending -> sent (the caller leaves the queue), with
# number_entry -> number_confirm -> consent for a number keyed in; declined, refused, failed and
# no_number end it with the caller back in the queue.
Stage = Literal[
    "consent",
    "number_entry",
    "number_confirm",
    "sending",
    "sent",
    "declined",
    "refused",
    "failed",
    "no_number",
]


@dataclass(kw_only=True)
class DeflectionState:
    """The deflection layer's part of a call's state (`gateway.deflection` reads and writes it; the
    flow engine does not). Kept here so that a call's state is one typed, serialisable value."""

    stage: Stage | None = None
    # Before the offer: the caller ID's attestation, whether the offer's preparations were started
    # (a line type lookup), and the last refusal with its time (temporary ones are asked again).
    stir_verstat: str | None = None
    prepared: bool = False
    refused: str | None = None
    refused_at: float = 0.0
    # The accepted offer: which one, what it offers, the number it goes to, and the consent words the
    # caller heard with their version ("ru-RU/consent-v1").
    offer_number: int = 0
    channels: list[str] = field(default_factory=list)
    sms_template: str = ""
    number: str | None = None
    keyed: bool = False
    prompt: str = ""
    prompt_version: str = ""
    # A number being keyed in: the tries so far, and the one read back for confirmation.
    attempts: int = 0
    candidate: str | None = None
    # The SMS: its natural key (CallSid:offer number), its outbox row, and the polls for its status.
    offer_key: str | None = None
    outbox_id: int | None = None
    polls: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeflectionState:
        return cls(**{k: v for k, v in data.items() if k in _DEFLECTION_FIELDS})


# The field names `from_dict` keeps, worked out once (`fields()` walks the class): a newer release's
# unknown keys are dropped.
_DEFLECTION_FIELDS = frozenset(f.name for f in fields(DeflectionState))


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
    # The offer experiment's variant the call got when it entered the queue of the enqueue step
    # `variant_step` (None: that step's offer runs no experiment); see gateway.flows.experiments.
    variant: str | None = None
    variant_step: str | None = None
    # The last place in the queue Twilio told us (it sends QueuePosition only to the waitUrl, not to
    # the Gathers of the offer and consent inside the queue).
    queue_position: int | None = None
    # The versions of the texts the call started on ({"sms": 3, "voice": 2}): a publish during the call
    # does not change what this caller hears or is sent (the flow's version is `flow_version`).
    content: dict[str, int] = field(default_factory=dict)
    deflection: DeflectionState = field(default_factory=DeflectionState)

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
        """A deep copy, so engine functions never change the state they were given. Written out
        (not `copy.deepcopy`, five times slower on every webhook): every container field is copied
        here, and a test checks that no field is shared."""
        clone = copy.copy(self)
        clone.path = list(self.path)
        clone.choices = [dict(choice) for choice in self.choices]
        clone.retries = dict(self.retries)
        clone.content = dict(self.content)
        clone.deflection = copy.copy(self.deflection)
        clone.deflection.channels = list(self.deflection.channels)
        return clone

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (not `dataclasses.asdict`, which deep-copies everything on every
        webhook): only for serialising at once, the containers are the state's own."""
        data = dict(self.__dict__)
        data["deflection"] = dict(self.deflection.__dict__)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, owned: bool = False) -> CallState:
        """Rebuild from to_dict(); unknown keys (from a newer release) are ignored. `owned`: the data
        is the caller's to give away (freshly decoded JSON), so it is not copied."""
        values = {k: (v if owned else copy.deepcopy(v)) for k, v in data.items() if k in _CALL_FIELDS}
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
        values["deflection"] = DeflectionState.from_dict(values.get("deflection") or {})
        return cls(**values)

    def seconds_in_queue(self, now: float) -> float:
        """How long the caller has been waiting in the current queue (0 if not queued)."""
        return max(0.0, now - self.enqueued_at) if self.enqueued_at is not None else 0.0


_CALL_FIELDS = frozenset(f.name for f in fields(CallState))


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
    offer_accepted: bool = False

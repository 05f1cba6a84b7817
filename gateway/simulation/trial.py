"""A test call from the admin console ("try it in the browser"), replayed whole on every press.

The panel keeps the caller's inputs so far (the script: one item per prompt, as `deflect simulate
--keys` takes them) in its form; each press adds one and plays the whole call again from its first
webhook, in a new sandbox (`gateway.simulation.sandbox`). Nothing of a call in progress is kept
anywhere between presses, so any server of the installation can answer the next one, a press cannot
find a call that expired, and the same script on the same content at the same moment plays the same
call. The cost is replaying the earlier steps: a few milliseconds each, against tens for the sandbox.

What a press shows is read back from the sandbox before it is thrown away: everything the caller
heard, in order, with its language and the prompt it belonged to (the offer, the consent...); the
versions that played; the offer's refusals; the consent as the ledger recorded it; the SMS as the dev
inbox received it, with its encoding and segments.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as time_of_day_type
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gateway.flows.loader import FlowSet
from gateway.flows.model import Flow
from gateway.messaging.segments import SegmentInfo, count_segments
from gateway.simulation.player import AGENT, HANG_UP, NO_NUMBER, SPEECH_PREFIX, WAIT, Heard, Player, Prompt
from gateway.simulation.sandbox import Sandbox, Sandboxes
from gateway.store.db import Database
from gateway.store.models import CallEvent, ConsentRecord, DevInboxMessage

FLOW_PREFIX = "flow:"  # a flow chosen by id rather than by a number it answers
MAX_SCRIPT = 200  # items: a call longer than this is not tried by hand
MAX_ITEM = 300  # characters of one item (a spoken answer)
MAX_WAIT = 3600  # seconds one "wait" may stand for
KEYS = "0123456789*#"


class TrialError(ValueError):
    """The test call cannot be played as asked; `field` names the form field at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Trial:
    caller: str  # E.164
    called: str  # a number (E.164) the flows answer, or FLOW_PREFIX + a flow id
    day: date | None = None  # in the flow's time zone; None: today
    time_of_day: time_of_day_type | None = None  # None: now
    position: int = 3
    avg_wait: int = 300
    drafts: bool = False
    script: tuple[str, ...] = ()


@dataclass(frozen=True)
class DraftNote:
    kind: str
    key: str
    based_on: int | None
    playable: bool  # False: it has problems, and its live version plays


@dataclass(frozen=True)
class Played:
    """Which content played, and where and when the call was made."""

    flow_id: str
    flow_version: int  # DRAFT (0): the flow's draft
    locale: str
    called: str
    moment: datetime  # in the flow's time zone
    pins: dict[str, int]  # "sms/ru-RU" -> version (DRAFT: the draft)
    drafts: tuple[DraftNote, ...] = ()


@dataclass(frozen=True)
class Consent:
    prompt_text: str
    prompt_version: str
    channel: str
    key_pressed: str


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    info: SegmentInfo


@dataclass(frozen=True)
class TrialResult:
    heard: tuple[Heard, ...]
    prompt: Prompt | None  # where the call waits for the next input; None: it ended
    played: Played
    refusals: tuple[str, ...] = ()  # why no offer was made (the eligibility's reasons)
    consents: tuple[Consent, ...] = ()
    messages: tuple[Sms, ...] = ()
    seconds: float = 0.0  # how long the press took to play
    unused: int = 0  # script items left over when the call ended
    offer: tuple[Heard, ...] = field(default=())  # what the caller heard of the (first) offer


def play(sandboxes: Sandboxes, trial: Trial) -> TrialResult:
    """Play `trial` from its first webhook in a new sandbox, and say what happened. TrialError when
    the call cannot be placed (an unknown flow)."""
    started = time.perf_counter()
    heard: list[Heard] = []
    script = list(trial.script)

    def inputs(_prompt: Prompt) -> str | None:
        return script.pop(0) if script else None

    with sandboxes.open(at=sandboxes.real.clock.time(), drafts=trial.drafts) as box:
        flow, called = _placed(box, trial)
        moment = call_moment(flow, trial.day, trial.time_of_day, box.clock.now())
        box.clock.set(moment)
        played = Played(
            flow.id,
            flow.version,
            flow.locale,
            called,
            moment,
            box.services.registry.pins(flow.locale, drafts=trial.drafts),
            _draft_notes(box) if trial.drafts else (),
        )
        player = Player(
            box.app,
            caller=trial.caller,
            called=called,
            base_url=sandboxes.real.public_base,
            hear=heard.append,
            inputs=inputs,
            position=trial.position,
            avg_wait=trial.avg_wait,
        )
        prompt = player.run()
        refusals, consents, messages = _left_behind(box.services.database, player.call_sid)
    return TrialResult(
        heard=tuple(heard),
        prompt=prompt,
        played=played,
        refusals=refusals,
        consents=consents,
        messages=messages,
        seconds=time.perf_counter() - started,
        unused=len(script),
        offer=first_offer(heard),
    )


def _placed(box: Sandbox, trial: Trial) -> tuple[Flow, str]:
    """The flow the call reaches and the number it calls. A flow chosen by id answers every number in
    this sandbox (as `deflect simulate --flow` plays a file)."""
    flows: FlowSet = box.services.registry.flows(drafts=trial.drafts)
    if not trial.called.startswith(FLOW_PREFIX):
        return flows.for_number(trial.called), trial.called
    try:
        flow = flows.get(trial.called[len(FLOW_PREFIX) :])
    except KeyError:
        raise TrialError("no such flow", "called") from None
    box.services.registry.serve_only(flow)
    return flow, flow.numbers[0] if flow.numbers else NO_NUMBER


def call_moment(
    flow: Flow, day: date | None, time_of_day: time_of_day_type | None, now: datetime
) -> datetime:
    """When the call is made: `day` at `time_of_day` in the flow's time zone (today, now, by default)."""
    zone = ZoneInfo(flow.hours.timezone) if flow.hours else UTC
    local = now.astimezone(zone)
    if day is None and time_of_day is None:
        return local
    when = time_of_day or local.time().replace(microsecond=0)
    return datetime.combine(day or local.date(), when.replace(tzinfo=None), tzinfo=zone)


def first_offer(heard: Sequence[Heard]) -> tuple[Heard, ...]:
    """The texts of the first offer the caller heard (it is repeated on later passes)."""
    offer: list[Heard] = []
    for item in heard:
        if item.kind == "say" and item.stage == "offer" and item.asks:
            offer.append(item)
        elif offer:
            break
    return tuple(offer)


def _draft_notes(box: Sandbox) -> tuple[DraftNote, ...]:
    return tuple(
        DraftNote(draft.kind, draft.key, draft.based_on, not draft.problems)
        for draft in box.services.content.store.drafts()
    )


def _left_behind(
    database: Database, call_sid: str
) -> tuple[tuple[str, ...], tuple[Consent, ...], tuple[Sms, ...]]:
    """What the call wrote in the sandbox: the offer's refusals, the consent, the SMS."""
    with database.session() as session:
        refused = session.scalars(
            select(CallEvent)
            .where(CallEvent.call_sid == call_sid, CallEvent.kind == "offer.refused")
            .order_by(CallEvent.id)
        ).all()
        consents = session.scalars(
            select(ConsentRecord).where(ConsentRecord.call_sid == call_sid).order_by(ConsentRecord.id)
        ).all()
        sent = session.scalars(select(DevInboxMessage).order_by(DevInboxMessage.id)).all()
        return (
            tuple(str(event.data.get("reason", "")) for event in refused),
            tuple(
                Consent(row.prompt_text or "", row.prompt_version or "", row.channel, row.key_pressed or "")
                for row in consents
            ),
            tuple(Sms(row.to, row.body, count_segments(row.body)) for row in sent),
        )


# -- the panel's inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """What the panel's form carries between presses: the script so far, and the keys pressed at the
    current prompt that do not finish it yet (a number keyed in, finished with #)."""

    script: tuple[str, ...] = ()
    typed: str = ""

    def encoded(self) -> str:
        return json.dumps(list(self.script), ensure_ascii=False)

    @classmethod
    def decode(cls, script: str, typed: str) -> Inputs:
        """The form's fields back; anything malformed starts the call afresh."""
        try:
            items = json.loads(script) if script.strip() else []
        except ValueError:
            items = []
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            items = []
        clean = tuple(item.replace("\n", " ")[:MAX_ITEM] for item in items[:MAX_SCRIPT])
        return cls(clean, "".join(key for key in typed if key in KEYS)[:32])


def answer(inputs: Inputs, prompt: Prompt | None, action: str, value: str = "") -> Inputs:
    """The inputs after one press of the panel at `prompt` (where the last play stopped; None: the
    call has not started or has ended). An input the prompt does not take changes nothing.

    action: "call" (start again), "undo" (take back the last input), "key" (one key, `value`),
    "timeout" (no more keys: the prompt times out, with what was typed), "say" (words, `value`),
    "wait" (seconds in the queue, `value`), "agent" (an agent answers), "hangup".
    """
    if action == "call":
        return Inputs()
    if action == "undo":
        return Inputs(inputs.script[:-1]) if not inputs.typed else Inputs(inputs.script)
    if prompt is None or len(inputs.script) >= MAX_SCRIPT:
        return inputs
    item = _item(inputs, prompt, action, value.strip())
    if item is None:
        return inputs
    if isinstance(item, _Typed):
        return Inputs(inputs.script, item.keys)
    return Inputs((*inputs.script, item))


@dataclass(frozen=True)
class _Typed:
    keys: str


def _item(inputs: Inputs, prompt: Prompt, action: str, value: str) -> str | _Typed | None:
    at_keys = prompt.kind == "keys"
    if action == "hangup":
        return HANG_UP
    if action == "key" and at_keys and len(value) == 1 and value in KEYS:
        return _key(inputs.typed, prompt, value)
    if action == "timeout" and at_keys:
        return inputs.typed
    if action == "say" and at_keys and value:
        return SPEECH_PREFIX + " ".join(value.split())[:MAX_ITEM]
    if action == "wait" and prompt.kind == "queue" and value.isdigit() and 0 < int(value) <= MAX_WAIT:
        return f"{WAIT}{int(value)}"
    if action == "agent" and prompt.kind == "queue":
        return AGENT
    return None


def _key(typed: str, prompt: Prompt, key: str) -> str | _Typed:
    """A key finishes the prompt's input when it is the finishing key or the last digit wanted."""
    if key == prompt.finish_on_key:
        return typed  # nothing typed before it: as if the prompt timed out
    keys = typed + key
    if prompt.num_digits is not None and len(keys) >= prompt.num_digits:
        return keys
    return _Typed(keys)

"""The flow engine: pure functions of (flow, step, call state, context) that return TwiML and events.

Nothing here does I/O or reads a clock; the web layer passes `Context.now` and the `Urls` to use.
"""

from __future__ import annotations

from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from gateway.events import Event
from gateway.flows import experiments
from gateway.flows.model import (
    BranchRule,
    BranchStep,
    EnqueueStep,
    Flow,
    HangupStep,
    MenuOption,
    MenuStep,
    SayStep,
    Step,
    TransferStep,
)
from gateway.flows.state import CallState, Context, Outcome, Urls
from gateway.flows.twiml import enqueue, fallback_enqueue, hold_in_queue, say
from gateway.flows.wait import handle_offer_input, offer_due, wait_loop

__all__ = [
    "QUEUE_RESULTS",
    "EngineError",
    "enqueue_result",
    "fallback_enqueue",
    "handle_menu_input",
    "handle_offer_input",
    "hold_in_queue",
    "offer_due",
    "rule_matches",
    "run_step",
    "transfer_result",
    "wait_loop",
]

MAX_INLINE_STEPS = 25
"""Say and branch steps chain within one response; the loader rejects loops, this is a backstop."""

QUEUE_RESULTS = (
    "bridged",
    "bridging-in-process",
    "error",
    "hangup",
    "leave",
    "redirected",
    "redirected-from-bridged",
    "queue-full",
    "system-error",
)
"""Every QueueResult Twilio sends to the <Enqueue> action."""
_DIAL_ANSWERED = frozenset({"completed", "answered"})
_PUNCTUATION = str.maketrans("", "", ".,!?;:\"'«»")


class EngineError(Exception):
    """The request does not fit the flow (say, a step id the flow no longer has); the web layer
    answers with a fallback from gateway.flows.twiml."""


def _step(flow: Flow, step_id: str) -> Step:
    try:
        return flow.steps[step_id]
    except KeyError:
        raise EngineError(f"flow '{flow.id}' v{flow.version} has no step '{step_id}'") from None


class _Run:
    """One response being built: the TwiML, the state copy and the events so far."""

    def __init__(self, flow: Flow, state: CallState, ctx: Context, urls: Urls) -> None:
        self.flow, self.ctx, self.urls = flow, ctx, urls
        self.state = state.copy()
        self.response = VoiceResponse()
        self.events: list[Event] = []

    def event(self, name: str, /, **data: Any) -> None:
        self.events.append(Event(name, data))

    def outcome(self, offer_accepted: bool = False) -> Outcome:
        return Outcome(self.response, self.state, self.events, offer_accepted)

    def steps_from(self, step_id: str) -> None:
        """Run `step_id` and the say/branch steps after it, up to a step that waits."""
        current = step_id
        for _ in range(MAX_INLINE_STEPS):
            step = _step(self.flow, current)
            self.state.step = current
            self.state.path.append(current)
            self.event("call.step", step=current, kind=step.kind)
            if isinstance(step, SayStep):
                if step.text is not None:
                    say(self.response, self.flow, step.text)
                else:
                    self.response.play(step.play)
                current = step.next
            elif isinstance(step, BranchStep):
                current = self.branch(current, step)
            else:
                self.render(current, step)
                return
        raise EngineError(
            f"flow '{self.flow.id}': more than {MAX_INLINE_STEPS} steps chained "
            f"without waiting for the caller (at '{current}')"
        )

    def branch(self, step_id: str, step: BranchStep) -> str:
        for index, rule in enumerate(step.when):
            if rule_matches(rule, self.state, self.ctx):
                self.event("branch.taken", step=step_id, rule=index, next=rule.next)
                return rule.next
        self.event("branch.taken", step=step_id, rule=None, next=step.otherwise)
        return step.otherwise

    def render(self, step_id: str, step: Step) -> None:
        if isinstance(step, MenuStep):
            self.menu(step_id, step)
        elif isinstance(step, EnqueueStep):
            self.enqueue(step_id, step)
        elif isinstance(step, TransferStep):
            dial = self.response.dial(
                action=self.urls.dial_action(step_id), method="POST", timeout=step.timeout
            )
            if step.number is not None:
                dial.number(step.number)
            else:
                dial.sip(step.sip)
            self.event("transfer.dialled", step=step_id, number=step.number, sip=step.sip)
        elif isinstance(step, HangupStep):
            if step.text is not None:
                say(self.response, self.flow, step.text)
            self.response.hangup()

    def menu(self, step_id: str, step: MenuStep, reprompt: str | None = None) -> None:
        options: dict[str, Any] = {}
        if step.speech:
            words = [w for option in step.options.values() for w in option.speech]
            options = {"language": self.flow.locale, "speech_timeout": "auto"}
            if words:
                options["hints"] = ", ".join(words)
        gather = self.response.gather(
            input="dtmf speech" if step.speech else "dtmf",
            num_digits=1,
            action=self.urls.menu(step_id),
            method="POST",
            timeout=step.timeout,
            **options,
        )
        if reprompt is not None:
            say(gather, self.flow, reprompt)
        say(gather, self.flow, step.prompt)
        # Without input Twilio falls through the Gather: the same URL then handles "no input".
        self.response.redirect(self.urls.menu(step_id), method="POST")

    def enqueue(self, step_id: str, step: EnqueueStep) -> None:
        if self.state.queue != step.queue or self.state.enqueued_at is None:
            self.state.enqueued_at = self.ctx.now
            self.state.last_announce_at = None
        self.state.queue = step.queue
        enqueue(self.response, step.queue, self.urls.wait(), self.urls.enqueue_action())
        self.event("queue.enqueued", step=step_id, queue=step.queue)
        self.assign_variant(step_id, step)

    def assign_variant(self, step_id: str, step: EnqueueStep) -> None:
        """A queue whose offer runs an experiment: the call's variant, kept in its state (and said in
        an event) the first time the call enters this step's queue; a retry keeps it."""
        offer = step.wait.offer
        if offer is None or not offer.variants:
            return
        if self.state.variant_step == step_id and offer.variant(self.state.variant) is not None:
            return
        variant = experiments.assign(offer, self.flow.id, step_id, self.state.call_sid)
        self.state.variant, self.state.variant_step = variant, step_id
        self.event("experiment.assigned", queue=step.queue, step=step_id, variant=variant)


def rule_matches(rule: BranchRule, state: CallState, ctx: Context) -> bool:
    """Whether every condition of a branch rule holds; unknown facts never match."""
    checks: list[bool] = []
    if rule.open is not None:
        checks.append(ctx.open == rule.open)
    if rule.caller_region is not None:
        checks.append(state.caller_region in rule.caller_region)
    if rule.caller_number_type is not None:
        checks.append(state.caller_number_type in rule.caller_number_type)
    if rule.caller_known is not None:
        checks.append((state.caller is not None) == rule.caller_known)
    stats = ctx.stats(rule.queue)
    if rule.queue_size_at_least is not None:
        checks.append(stats.size is not None and stats.size >= rule.queue_size_at_least)
    if rule.ewt_seconds_at_least is not None:
        checks.append(
            stats.avg_wait_seconds is not None and stats.avg_wait_seconds >= rule.ewt_seconds_at_least
        )
    return all(checks)


def run_step(flow: Flow, step_id: str, state: CallState, ctx: Context, urls: Urls) -> Outcome:
    """Run a step (and the say/branch steps it leads to) and return the TwiML to answer with."""
    run = _Run(flow, state, ctx, urls)
    run.steps_from(step_id)
    return run.outcome()


def _choose(step: MenuStep, digits: str, speech: str) -> tuple[str, MenuOption] | None:
    if digits:
        return (digits, step.options[digits]) if digits in step.options else None
    said = speech.casefold().translate(_PUNCTUATION).split()
    if len(said) == 1 and said[0] in step.options:  # speech recognition often returns "1."
        return said[0], step.options[said[0]]
    # Words are stems: "карт" matches "карта" and "карту"; the first option that matches wins.
    heard = " " + " ".join(said)
    for digit, option in step.options.items():
        if any(" " + " ".join(word.casefold().split()) in heard for word in option.speech):
            return digit, option
    return None


def handle_menu_input(
    flow: Flow,
    step_id: str,
    state: CallState,
    ctx: Context,
    urls: Urls,
    digits: str | None = None,
    speech: str | None = None,
) -> Outcome:
    """The caller answered a menu (or did not): go to the chosen step, ask again, or give up
    to the menu's no_input / invalid step once its retries are used."""
    step = _step(flow, step_id)
    if not isinstance(step, MenuStep):
        raise EngineError(f"step '{step_id}' of flow '{flow.id}' is not a menu")
    run = _Run(flow, state, ctx, urls)
    digits, speech = (digits or "").strip(), (speech or "").strip()
    chosen = _choose(step, digits, speech)
    if chosen is not None:
        digit, option = chosen
        choice = {"step": step_id, "digit": digit}
        if option.label is not None:
            choice["label"] = option.label
        if not digits:
            choice["speech"] = speech
        run.state.choices.append(choice)
        run.state.retries.pop(step_id, None)
        run.event("menu.choice", **choice, next=option.next)
        run.steps_from(option.next)
        return run.outcome()
    kind = "menu.invalid" if digits or speech else "menu.no_input"
    attempt = run.state.retries.get(step_id, 0) + 1
    heard = {"digits": digits or None, "speech": speech or None}
    if attempt <= step.retries:
        run.state.retries[step_id] = attempt
        run.state.step = step_id
        run.event(kind, step=step_id, attempt=attempt, exhausted=False, **heard)
        run.menu(step_id, step, reprompt=step.reprompt)
        return run.outcome()
    run.state.retries.pop(step_id, None)
    run.event(kind, step=step_id, attempt=attempt, exhausted=True, **heard)
    target = step.no_input if kind == "menu.no_input" else step.invalid or step.no_input
    run.steps_from(target)
    return run.outcome()


def transfer_result(
    flow: Flow, step_id: str, state: CallState, ctx: Context, urls: Urls, dial_status: str
) -> Outcome:
    """The <Dial> of a transfer step ended: hang up after a call, else go to the step's `next`."""
    step = _step(flow, step_id)
    if not isinstance(step, TransferStep):
        raise EngineError(f"step '{step_id}' of flow '{flow.id}' is not a transfer")
    run = _Run(flow, state, ctx, urls)
    run.event("transfer.result", step=step_id, status=dial_status)
    if dial_status in _DIAL_ANSWERED or step.next is None:
        run.response.hangup()
    else:
        run.steps_from(step.next)
    return run.outcome()


def enqueue_result(
    flow: Flow, state: CallState, ctx: Context, urls: Urls, queue_result: str, deflected: bool = False
) -> Outcome:
    """The caller left the queue (the <Enqueue> action). `deflected` says a `leave` came from an
    accepted offer (the caller continues in a messenger) rather than from the flow."""
    run = _Run(flow, state, ctx, urls)
    step = flow.steps.get(state.step)
    queued = step if isinstance(step, EnqueueStep) else None
    run.event(
        "queue.result",
        result=queue_result,
        queue=state.queue,
        deflected=deflected,
        waited_seconds=round(state.seconds_in_queue(ctx.now)),
    )
    if queue_result == "bridged":
        run.response.hangup()  # the agent ended the call; nothing more to say
    elif queue_result in ("bridging-in-process", "redirected", "redirected-from-bridged", "hangup"):
        pass  # the call is already elsewhere (an agent, other TwiML) or gone
    elif queue_result == "leave":
        if deflected or queued is None or queued.after is None:
            run.response.hangup()
        else:
            run.steps_from(queued.after)
    else:
        _queue_failed(run, queued, queue_result)
    return run.outcome()


def _queue_failed(run: _Run, step: EnqueueStep | None, queue_result: str) -> None:
    """error, system-error, queue-full (and any result Twilio adds later): apologise, then
    re-enqueue while retries last, or go to the step's `after`."""
    if step is None:
        run.response.hangup()
        return
    step_id = run.state.step
    if step.error_text is not None:
        say(run.response, run.flow, step.error_text)
    attempts = run.state.retries.get(step_id, 0)
    # A full queue stays full for a while: prefer the flow's alternative to a retry.
    if attempts < step.retries and not (queue_result == "queue-full" and step.after):
        run.state.retries[step_id] = attempts + 1
        run.event("queue.retry", step=step_id, queue=step.queue, attempt=attempts + 1)
        run.steps_from(step_id)
        return
    run.state.retries.pop(step_id, None)
    if step.after is not None:
        run.steps_from(step.after)
    else:
        run.response.hangup()

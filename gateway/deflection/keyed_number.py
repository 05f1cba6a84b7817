"""A number keyed in by a caller whose own number cannot be texted (withheld, landline, abroad): keyed
in with #, checked like any number, read back digit by digit and confirmed, then the consent question.
Two tries; a number that must not be texted at all (opted out, texted recently, a paused range, no line
type to be had) ends the dialogue at once. The caller keeps their place in the queue throughout."""

from __future__ import annotations

from collections.abc import Callable

from gateway.deflection import twiml
from gateway.deflection.eligibility import Policy, line_type_refusal, number_refusal
from gateway.deflection.guards import Guards
from gateway.deflection.prompts import refusal_text, spoken_digits
from gateway.deflection.twiml import DeflectionUrls
from gateway.events import Event
from gateway.flows.model import Flow
from gateway.flows.state import CallState, Context, Outcome
from gateway.flows.voice_text_set import VoiceTextSource
from gateway.flows.voice_texts import VoiceTexts
from gateway.phone import PhoneNumber, parse_number

MAX_NUMBER_ATTEMPTS = 2
FINAL_PROBLEMS = frozenset({"opted_out", "texted_recently", "range_paused", "line_type_unknown"})

AskConsent = Callable[["Flow", "CallState", "VoiceTexts", "DeflectionUrls", str], Outcome]


def keyed_number(digits: str, flow: Flow) -> PhoneNumber | None:
    """Digits as keyed (with or without # and the 00 international prefix), with or without the
    country code: the flow's home region is tried for a national number."""
    digits = digits.rstrip("#")
    typed = ("+" + digits[2:]) if digits.startswith("00") else digits
    return parse_number(typed if typed.startswith("+") else "+" + typed) or parse_number(
        typed, default_region=flow.home_regions[0] if flow.home_regions else None
    )


class KeyedNumbers:
    def __init__(
        self,
        guards: Guards,
        policy_for: Callable[[Flow], Policy],
        voice_texts: VoiceTextSource,
        ask_consent: AskConsent,
    ) -> None:
        self.guards = guards
        self.policy_for = policy_for
        self.voice_texts = voice_texts
        self.ask_consent = ask_consent  # the consent question for the confirmed number

    def entered(
        self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls, digits: str
    ) -> Outcome:
        texts = self.voice_texts.texts_for(flow.locale, state.content)
        if state.deflection.stage != "number_entry":
            return twiml.resume(state, urls, "number.stale")
        number = keyed_number(digits, flow)
        problem = self._problem(number, flow, ctx.now)
        if problem is None:
            assert number is not None
            state.deflection.stage = "number_confirm"
            state.deflection.candidate = number.e164
            read_back = texts.read_back.fill(digits=spoken_digits(number.e164[1:]))
            return Outcome(
                twiml.ask_key(flow, read_back, urls.number_confirm()),
                state,
                [Event("number.entered", {"valid": True})],
            )
        return self._retry(flow, state, urls, texts, problem)

    def confirmed(
        self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls, digit: str
    ) -> Outcome:
        texts = self.voice_texts.texts_for(flow.locale, state.content)
        if state.deflection.stage != "number_confirm":
            return twiml.resume(state, urls, "number.stale")
        if digit == "1" and state.deflection.candidate is not None:
            return self.ask_consent(flow, state, texts, urls, state.deflection.candidate)
        if digit == "2":
            return self._retry(flow, state, urls, texts, "re_entry")
        return twiml.back_to_queue(flow, state, texts.declined, urls, "declined", "number.not_confirmed")

    def _problem(self, number: PhoneNumber | None, flow: Flow, now: float) -> str | None:
        if number is None:
            return "number_invalid"
        policy = self.policy_for(flow)
        reason = number_refusal(number, policy)
        if reason is None and self.guards.opted_out(number.e164):
            reason = "opted_out"
        if reason is None and self.guards.texted_recently(number.e164, now):
            reason = "texted_recently"
        if reason is None and self.guards.range_pause(number.e164):
            reason = "range_paused"
        if reason is None and self.guards.line_types.needed(number):
            # At once, within DEFLECT_LINE_TYPE_TIMEOUT: the caller has just pressed # and waits for
            # the read-back; a landline is refused like any number that is not a mobile.
            reason = line_type_refusal(number, self.guards.line_types.at_once(number.e164), policy)
        return reason

    def _retry(
        self, flow: Flow, state: CallState, urls: DeflectionUrls, texts: VoiceTexts, problem: str
    ) -> Outcome:
        attempts = state.deflection.attempts + 1
        event = Event("number.entered", {"valid": False, "reason": problem, "attempt": attempts})
        if attempts >= MAX_NUMBER_ATTEMPTS or problem in FINAL_PROBLEMS:
            outcome = twiml.back_to_queue(
                flow, state, refusal_text(texts, problem), urls, "no_number", problem
            )
            outcome.events.insert(0, event)
            return outcome
        state.deflection.stage = "number_entry"
        state.deflection.attempts = attempts
        said = texts.number_invalid if problem == "number_invalid" else texts.number_not_mobile
        return Outcome(twiml.ask_number(flow, texts.enter_number, urls.number_entry(), said), state, [event])

"""Where the offer is decided: may this caller be offered an SMS link now, and which messengers does it
name? The rules are pure (`gateway.deflection.eligibility`); this gathers their facts (the database and
Redis, through `Guards`) only when the offer is due, and again when the caller accepts it."""

from __future__ import annotations

from collections.abc import Callable

from gateway.deflection.chats import ChannelAccounts
from gateway.deflection.eligibility import (
    KEYED_NUMBER_REASONS,
    Policy,
    attestation_refusal,
    caller_refusal,
    keyed_number_attestation_refusal,
    line_type_refusal,
    messaging_refusal,
    number_refusal,
)
from gateway.deflection.guards import Guards
from gateway.deflection.prompts import said_channels
from gateway.flows.model import Flow, Offer
from gateway.flows.schedule import is_open
from gateway.flows.state import CallState, OfferChannels
from gateway.flows.voice_text_set import VoiceTextSource
from gateway.phone import parse_number


class OfferDecision:
    def __init__(
        self,
        guards: Guards,
        policy_for: Callable[[Flow], Policy],
        accounts: ChannelAccounts,
        voice_texts: VoiceTextSource,
    ) -> None:
        self.guards = guards
        self.policy_for = policy_for
        self.accounts = accounts
        self.voice_texts = voice_texts

    def refusal(self, flow: Flow, state: CallState, offer: Offer, now: float) -> str | None:
        """Why this caller must not be offered `offer` now (None: offer it)."""
        policy = self.policy_for(flow)
        reason = self.messaging_refusal(flow, state, policy, now)
        if reason:
            return reason
        if not self.accounts.available(list(offer.channels)):
            return "no_channel_configured"  # a link that leads nowhere helps nobody
        reason = self.caller_refusal(state, policy, now)
        if reason in KEYED_NUMBER_REASONS:  # offered only if they may key in another number
            return keyed_number_attestation_refusal(state.deflection.stir_verstat, policy)
        return reason

    def messaging_refusal(self, flow: Flow, state: CallState, policy: Policy, now: float) -> str | None:
        """What holds whatever number this caller would be texted at: asked before the offer, again at
        the accepting key (an admin may have paused meanwhile), and in the claim itself."""
        reason = messaging_refusal(self.guards.messaging(now, is_open(flow.hours, now)), policy)
        reason = reason or attestation_refusal(state.deflection.stir_verstat, policy)
        if reason is None and state.caller and self.guards.sms_guard.caller_spent(state.caller, now):
            reason = "caller_daily_limit"
        return reason

    def caller_refusal(self, state: CallState, policy: Policy, now: float) -> str | None:
        """Why the caller's own number may not be texted (a reason in KEYED_NUMBER_REASONS lets them key
        in another one)."""
        number = parse_number(state.caller)
        if number is None:
            return caller_refusal(None, policy, opted_out=False, texted_recently=False)
        opted_out = self.guards.opted_out(number.e164)
        recent = self.guards.texted_recently(number.e164, now)
        reason = caller_refusal(number, policy, opted_out=opted_out, texted_recently=recent)
        if reason is None and self.guards.range_pause(number.e164):
            return "range_paused"
        if reason is None and self.guards.line_types.needed(number):
            reason = line_type_refusal(number, self.guards.line_types.in_background(number.e164), policy)
        return reason

    def prepare(self, flow: Flow, state: CallState) -> None:
        """The caller entered a queue with an offer: what the offer will need and takes time starts now,
        in a job (a line type lookup), so the wait loop never waits on the network."""
        number = parse_number(state.caller)
        if (
            number is not None
            and self.guards.line_types.needed(number)
            and number_refusal(number, self.policy_for(flow)) is None
        ):
            self.guards.line_types.in_background(number.e164)

    def channels(self, flow: Flow, offer: Offer) -> OfferChannels:
        """The flow's channels that are configured, as the flow's voice says them."""
        ids = self.accounts.available(list(offer.channels))
        texts = self.voice_texts.texts_for(flow.locale)
        return OfferChannels(tuple(ids), said_channels(texts, ids, flow.locale))

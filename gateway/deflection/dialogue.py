"""The deflection dialogue, from "press 1" until the caller leaves the queue with an SMS on its way: the
stage machine (`DeflectionState.stage`), what the caller hears at each stage, and the `Deflection` the
voice service talks to.

Everything here is answered inside the wait loop (the caller is still in the queue), so only waitUrl
verbs are used (`gateway.deflection.twiml`). The caller keeps their place until the provider has
accepted the message; any refusal or failure sends them back to the hold music, told why.

consent -> sending -> sent (Leave), with number_entry -> number_confirm -> consent for a caller whose own
number cannot be texted (`gateway.deflection.keyed_number`); declined, refused, failed and no_number
send the caller back to waiting. Whether to offer at all is `gateway.deflection.offer`; the accepting
key press is `gateway.deflection.accept`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gateway.deflection import twiml
from gateway.deflection.accept import Accepted, OfferAcceptance
from gateway.deflection.eligibility import KEYED_NUMBER_REASONS, keyed_number_attestation_refusal
from gateway.deflection.keyed_number import KeyedNumbers
from gateway.deflection.offer import OfferDecision
from gateway.deflection.outbox import ACCEPTED_STATUSES, outbox_id_for, status_of
from gateway.deflection.prompts import own_number_problem, refusal_text, said_channels, spoken_ending
from gateway.deflection.twiml import DeflectionUrls
from gateway.events import Event
from gateway.flows.model import Flow, Offer
from gateway.flows.state import CallState, Context, OfferChannels, Outcome
from gateway.flows.voice_text_set import VoiceTextSource
from gateway.flows.voice_texts import VoiceTexts
from gateway.flows.wait import current_offer, wait_experience
from gateway.store.db import Database

log = logging.getLogger(__name__)

SENDING_POLLS = 8  # one-second polls before the caller goes back to the hold music meanwhile


class Dialogue:
    """The `Deflection` of the voice service: the offer decision, and the dialogue once it is accepted,
    in the words of `voice_texts` (asked for a flow's locale at every answer, so a newer set is heard
    from the next answer on)."""

    def __init__(
        self,
        decision: OfferDecision,
        acceptance: OfferAcceptance,
        database: Database,
        voice_texts: VoiceTextSource,
    ) -> None:
        self.decision = decision
        self.acceptance = acceptance
        self.database = database
        self.voice_texts = voice_texts
        self.keyed = KeyedNumbers(
            decision.guards,
            decision.policy_for,
            voice_texts,
            lambda flow, state, texts, urls, number: self._ask_consent(
                flow, state, texts, urls, number, keyed=True
            ),
        )

    # -- before the offer is played (`gateway.deflection.offer`) ----------------------------------

    def offer_refusal(self, flow: Flow, state: CallState, offer: Offer, now: float) -> str | None:
        return self.decision.refusal(flow, state, offer, now)

    def prepare(self, flow: Flow, state: CallState) -> None:
        self.decision.prepare(flow, state)

    def offer_channels(self, flow: Flow, offer: Offer) -> OfferChannels:
        return self.decision.channels(flow, offer)

    def in_progress(self, state: CallState) -> bool:
        return state.deflection.stage == "sending"

    def leaving_deflected(self, state: CallState) -> bool:
        return state.deflection.stage == "sent"

    # -- after the accept digit -------------------------------------------------------------------

    def accept(self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls) -> Outcome:
        return self._told_on_failure(flow, state, urls, lambda: self._accept(flow, state.copy(), ctx, urls))

    def _accept(self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls) -> Outcome:
        texts = self.voice_texts.texts_for(flow.locale, state.content)
        policy = self.decision.policy_for(flow)
        reason = self.decision.messaging_refusal(
            flow, state, policy, ctx.now
        ) or self.decision.caller_refusal(state, policy, ctx.now)
        offer = current_offer(flow, state)
        state.deflection.offer_number = state.offers_made
        state.deflection.channels = list(offer.channels) if offer else ["whatsapp"]
        state.deflection.sms_template = offer.sms_template if offer else "whatsapp_link"
        if reason is None:
            assert state.caller is not None
            return self._ask_consent(flow, state, texts, urls, state.caller, keyed=False)
        if reason in KEYED_NUMBER_REASONS:
            refused = keyed_number_attestation_refusal(state.deflection.stir_verstat, policy)
            if refused is None:
                state.deflection.stage = "number_entry"
                state.deflection.attempts = 0
                why = own_number_problem(texts, reason)
                return Outcome(
                    twiml.ask_number(flow, texts.enter_number, urls.number_entry(), why),
                    state,
                    [Event("number.asked", {"reason": reason})],
                )
            reason = refused
        return twiml.back_to_queue(flow, state, refusal_text(texts, reason), urls, "refused", reason)

    def step(
        self, name: str, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls, digits: str | None
    ) -> Outcome:
        handler = {
            "consent": self._consent,
            "number_entry": self.keyed.entered,
            "number_confirm": self.keyed.confirmed,
            "sending": self._sending,
        }[name]
        return self._told_on_failure(
            flow, state, urls, lambda: handler(flow, state.copy(), ctx, urls, (digits or "").strip())
        )

    def _told_on_failure(
        self, flow: Flow, state: CallState, urls: DeflectionUrls, run: Callable[[], Outcome]
    ) -> Outcome:
        """The caller pressed a key and is owed an answer: if a look-up fails (the database is down),
        they hear that it did not work and keep their place. Nothing was recorded (consent, session
        and outbox row are one transaction), so nothing will be sent behind their back."""
        try:
            return run()
        except Exception:
            log.exception("deflection dialogue failed at stage %s", state.deflection.stage)
            texts = self.voice_texts.texts_for(flow.locale, state.content)
            return twiml.back_to_queue(
                flow, state.copy(), texts.failed, urls, "failed", "deflection.unavailable"
            )

    def _ask_consent(
        self,
        flow: Flow,
        state: CallState,
        texts: VoiceTexts,
        urls: DeflectionUrls,
        number: str,
        *,
        keyed: bool,
    ) -> Outcome:
        accounts = self.acceptance.setup.accounts
        # The messengers are joined in the language the text parts speak ("или" for a Russian voice).
        channels = accounts.available(state.deflection.channels)
        channel = said_channels(texts, channels, texts.language or flow.locale)
        prompt = (
            texts.consent_keyed.fill(channel=channel)
            if keyed
            else texts.consent.fill(channel=channel, ending=spoken_ending(number, flow.locale))
        )
        state.deflection.stage = "consent"
        state.deflection.number = number
        state.deflection.keyed = keyed
        state.deflection.prompt = prompt.words  # what the ledger keeps: the transcript of recordings
        state.deflection.prompt_version = texts.consent_version
        return Outcome(
            twiml.ask_key(flow, prompt, urls.consent()),
            state,
            [Event("consent.asked", {"keyed_number": keyed})],
        )

    def _consent(
        self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls, digit: str
    ) -> Outcome:
        texts = self.voice_texts.texts_for(flow.locale, state.content)
        stage = state.deflection.stage
        if stage in ("sending", "sent"):  # a duplicate Gather POST: the offer is already accepted
            return self._sending(flow, state, ctx, urls, "")
        if stage != "consent":
            return twiml.resume(state, urls, "consent.stale")
        if digit != "1":
            event = "consent.declined" if digit else "consent.no_input"
            return twiml.back_to_queue(flow, state, texts.declined, urls, "declined", event)
        if not state.deflection.prompt_version:
            # Asked by a process from before versions were kept with the words (a deploy mid-call):
            # those words were today's texts, whose version this is.
            state.deflection.prompt_version = texts.consent_version
        result = self.acceptance.accept(
            flow, state, digit, ctx.now, position=ctx.queue_position, link_base=urls.base
        )
        if isinstance(result, Accepted):
            state.deflection.stage = "sending"
            state.deflection.outbox_id = result.outbox_id
            state.deflection.polls = 0
            return Outcome(
                twiml.say_and_go(flow, texts.sending, urls.sending(), pause=1), state, result.events
            )
        if result.kind == "repeated":  # the same key press posted twice (Twilio retried)
            state.deflection.stage = "sending"
            state.deflection.polls = 0
            return self._sending(flow, state, ctx, urls, "")
        if result.kind == "failed":
            return twiml.back_to_queue(flow, state, texts.failed, urls, "failed", result.reason)
        text = refusal_text(texts, result.reason)
        return twiml.back_to_queue(flow, state, text, urls, "refused", result.reason)

    def _sending(
        self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls, _digit: str
    ) -> Outcome:
        texts = self.voice_texts.texts_for(flow.locale, state.content)
        if state.deflection.stage == "sent":
            return Outcome(twiml.say_and_leave(None, None), state, [])
        outbox_id, status, code = self._outbox_status(state)
        if status in ACCEPTED_STATUSES:
            state.deflection.stage = "sent"
            assert state.deflection.number is not None
            sent = texts.sent.fill(ending=spoken_ending(state.deflection.number, flow.locale))
            return Outcome(
                twiml.say_and_leave(flow, sent),
                state,
                [
                    Event("sms.accepted", {"outbox_id": outbox_id, "status": status}),
                    Event("deflection.left", {"queue": state.queue}),
                ],
            )
        if status in ("refused", "missing"):
            return twiml.back_to_queue(
                flow,
                state,
                texts.failed,
                urls,
                "failed",
                "sms.refused",
                {"outbox_id": outbox_id, "error_code": code},
            )
        state.deflection.polls += 1
        polls = state.deflection.polls
        if polls < SENDING_POLLS:
            return Outcome(twiml.say_and_go(None, None, urls.sending(), pause=1), state, [])
        # A slow provider: hold music meanwhile (said once), and the wait loop keeps checking.
        first_slow = polls == SENDING_POLLS
        music = wait_experience(flow, state).hold_music or flow.hold_music
        return Outcome(
            twiml.hold(flow, music, texts.still_sending if first_slow else None),
            state,
            [Event("sms.slow", {"outbox_id": outbox_id})] if first_slow else [],
        )

    def _outbox_status(self, state: CallState) -> tuple[int | None, str, int | None]:
        """(outbox id, status, error code). The row may already be sent: a failed look-up is "not
        yet", never "failed"; the caller keeps waiting in the queue meanwhile."""
        outbox_id = state.deflection.outbox_id
        try:
            outbox_id = outbox_id or outbox_id_for(self.database, state.deflection.offer_key or "")
            if outbox_id:
                return (outbox_id, *status_of(self.database, outbox_id))
        except Exception:
            log.warning(
                "outbox status unavailable (offer %s); the caller keeps waiting", state.deflection.offer_key
            )
        return outbox_id, "pending", None

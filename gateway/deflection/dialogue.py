"""The hand-over dialogue, from "press 1" until the caller leaves the queue with an SMS on its way.

Everything here is answered inside the wait loop (the caller is still in the queue), so only waitUrl
verbs are used: Say, Gather (Say inside), Pause, Redirect, Play, Leave. The caller keeps their place
until the provider has accepted the message; any refusal or failure sends them back to the hold music.

Stages, kept in `CallState.deflection["stage"]`:
consent -> sending -> sent (Leave), with number_entry -> number_confirm -> consent for a caller whose own
number cannot be texted; declined / refused / no_number send the caller back to waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.deflection import twiml
from gateway.deflection.consent import ConsentGiven
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
from gateway.deflection.keyed_number import KeyedNumbers
from gateway.deflection.limits import RangePause
from gateway.deflection.outbox import (
    ACCEPTED_STATUSES,
    Acceptance,
    MessageSetup,
    accept_offer,
    outbox_id_for,
    status_of,
)
from gateway.deflection.prompts import (
    VoiceTexts,
    own_number_problem,
    refusal_text,
    said_channels,
    spoken_ending,
    texts_for,
)
from gateway.events import Event
from gateway.flows.model import Flow, Offer
from gateway.flows.schedule import is_open
from gateway.flows.state import CallState, Context, OfferChannels, Outcome, Urls
from gateway.flows.wait import wait_experience
from gateway.logs import mask_number
from gateway.phone import parse_number

log = logging.getLogger(__name__)

SENDING_POLLS = 8  # one-second polls before the caller goes back to the hold music meanwhile


class DeflectionUrls(Urls, Protocol):
    """The web layer's URLs for the hand-over dialogue, besides the flow's own."""

    base: str  # where callers reach us: PUBLIC_BASE_URL, or the URL of this very request

    def consent(self) -> str: ...

    def number_entry(self) -> str: ...

    def number_confirm(self) -> str: ...

    def sending(self) -> str: ...


class DeflectionDesk:
    """The `Deflection` the voice service hands accepted offers to."""

    def __init__(
        self,
        guards: Guards,
        policy_for: Callable[[Flow], Policy],
        setup: MessageSetup,
        enqueue_send: Callable[[int], None],
        database: Any,
    ) -> None:
        self.guards = guards
        self.policy_for = policy_for
        self.setup = setup
        self.enqueue_send = enqueue_send
        self.database = database
        self.keyed = KeyedNumbers(
            guards,
            policy_for,
            lambda flow, state, texts, urls, number: self._ask_consent(
                flow, state, texts, urls, number, keyed=True
            ),
        )

    # -- before the offer is played --------------------------------------------------------------

    def offer_refusal(self, flow: Flow, state: CallState, now: float) -> str | None:
        """Why this caller must not be offered a link now (None: offer it)."""
        policy = self.policy_for(flow)
        reason = self._messaging_refusal(flow, state, policy, now)
        if reason:
            return reason
        offer = wait_experience(flow, state).offer
        if offer is not None and not self.setup.accounts.available(list(offer.channels)):
            return "no_channel_configured"  # a link that leads nowhere helps nobody
        reason = self._caller_refusal(state, policy, now)
        if reason in KEYED_NUMBER_REASONS:  # offered only if they may key in another number
            return keyed_number_attestation_refusal(state.deflection.get("stir_verstat"), policy)
        return reason

    def _messaging_refusal(self, flow: Flow, state: CallState, policy: Policy, now: float) -> str | None:
        """What holds whatever number this caller would be texted at: asked before the offer, again at
        the accepting key (an admin may have paused meanwhile), and in the claim itself."""
        reason = messaging_refusal(self.guards.messaging(now, is_open(flow.hours, now)), policy)
        reason = reason or attestation_refusal(state.deflection.get("stir_verstat"), policy)
        if reason is None and state.caller and self.guards.sms_guard.caller_spent(state.caller, now):
            reason = "caller_daily_limit"
        return reason

    def _caller_refusal(self, state: CallState, policy: Policy, now: float) -> str | None:
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

    def offer_channels(self, flow: Flow, offer: Offer) -> OfferChannels:
        """The flow's channels that are configured, as the flow's voice says them."""
        ids = self.setup.accounts.available(list(offer.channels))
        return OfferChannels(tuple(ids), said_channels(ids, flow.locale))

    def in_progress(self, state: CallState) -> bool:
        return state.deflection.get("stage") == "sending"

    def leaving_deflected(self, state: CallState) -> bool:
        return state.deflection.get("stage") == "sent"

    # -- after the accept digit -------------------------------------------------------------------

    def accept(self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls) -> Outcome:
        return self._told_on_failure(flow, state, urls, lambda: self._accept(flow, state.copy(), ctx, urls))

    def _accept(self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls) -> Outcome:
        texts = texts_for(flow.locale)
        policy = self.policy_for(flow)
        reason = self._messaging_refusal(flow, state, policy, ctx.now) or self._caller_refusal(
            state, policy, ctx.now
        )
        offer = wait_experience(flow, state).offer
        state.deflection.update(
            offer_number=state.offers_made,
            channels=list(offer.channels) if offer else ["whatsapp"],
            sms_template=offer.sms_template if offer else "whatsapp_link",
        )
        if reason is None:
            assert state.caller is not None
            return self._ask_consent(flow, state, texts, urls, state.caller, keyed=False)
        if reason in KEYED_NUMBER_REASONS:
            refused = keyed_number_attestation_refusal(state.deflection.get("stir_verstat"), policy)
            if refused is None:
                state.deflection.update(stage="number_entry", attempts=0)
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
            log.exception("hand-over dialogue failed at stage %s", state.deflection.get("stage"))
            texts = texts_for(flow.locale)
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
        channel = said_channels(self.setup.accounts.available(state.deflection["channels"]), flow.locale)
        prompt = (
            texts.consent_keyed.format(channel=channel)
            if keyed
            else texts.consent.format(channel=channel, ending=spoken_ending(number, flow.locale))
        )
        state.deflection.update(stage="consent", number=number, keyed=keyed, prompt=prompt)
        return Outcome(
            twiml.ask_key(flow, prompt, urls.consent()),
            state,
            [Event("consent.asked", {"keyed_number": keyed})],
        )

    def _consent(
        self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls, digit: str
    ) -> Outcome:
        texts = texts_for(flow.locale)
        stage = state.deflection.get("stage")
        if stage in ("sending", "sent"):  # a duplicate Gather POST: the offer is already accepted
            return self._sending(flow, state, ctx, urls, "")
        if stage != "consent":
            return twiml.resume(state, urls, "consent.stale")
        if digit != "1":
            event = "consent.declined" if digit else "consent.no_input"
            return twiml.back_to_queue(flow, state, texts.declined, urls, "declined", event)
        number: str = state.deflection["number"]
        offer_key = f"{state.call_sid}:{state.deflection['offer_number']}"
        state.deflection["offer_key"] = offer_key
        if not self.guards.redis.set(f"deflect:accept:{offer_key}", "1", nx=True, ex=3600):
            # The same key press posted twice (Twilio retried): the first one is sending it.
            state.deflection.update(stage="sending", polls=0)
            return self._sending(flow, state, ctx, urls, "")
        keyed = state.deflection.get("keyed", False)
        stir_verstat, policy = state.deflection.get("stir_verstat"), self.policy_for(flow)
        refusal = attestation_refusal(stir_verstat, policy) or (
            keyed_number_attestation_refusal(stir_verstat, policy) if keyed else None
        )
        if refusal:
            return twiml.back_to_queue(flow, state, refusal_text(texts, refusal), urls, "refused", refusal)
        # Checked again at the last moment, atomically with the counters: a pause set (by an admin, or
        # by a trip) after the offer was heard holds too.
        claim = self.guards.sms_guard.claim(number, ctx.now, caller=state.caller, keyed=keyed)
        if claim.refusal:
            text = refusal_text(texts, claim.refusal)
            return twiml.back_to_queue(flow, state, text, urls, "refused", claim.refusal)
        tripped = [_range_paused(pause, number) for pause in claim.tripped]
        try:
            outbox_id = accept_offer(
                self.database,
                self._acceptance(flow, state, ctx, digit),
                # The SMS link points where Twilio reached us (also in development, on any port).
                replace(self.setup, link_base=urls.base),
                datetime.fromtimestamp(ctx.now, UTC),
            )
        except Exception:
            # Nothing was recorded (one transaction), so nothing will be sent: say so, keep the place.
            log.exception("offer %s could not be recorded", offer_key)
            self.guards.sms_guard.release(claim)
            self.guards.redis.delete(f"deflect:accept:{offer_key}")
            return twiml.back_to_queue(flow, state, texts.failed, urls, "failed", "sms.not_recorded")
        try:
            self.enqueue_send(outbox_id)
        except Exception:  # the row is committed: the outbox sweeper sends it within a minute
            log.exception("outbox %d recorded but not enqueued; the sweeper will send it", outbox_id)
        state.deflection.update(stage="sending", outbox_id=outbox_id, polls=0)
        return Outcome(
            twiml.say_and_go(flow, texts.sending, urls.sending(), pause=1),
            state,
            [
                Event("consent.granted", {"keyed_number": state.deflection.get("keyed", False)}),
                Event("sms.queued", {"outbox_id": outbox_id}),
                *tripped,
            ],
        )

    def _acceptance(self, flow: Flow, state: CallState, ctx: Context, digit: str) -> Acceptance:
        channels = self.setup.accounts.available(state.deflection["channels"]) or ["whatsapp"]
        waited = round(state.seconds_in_queue(ctx.now))
        return Acceptance(
            offer_key=state.deflection["offer_key"],
            consent=ConsentGiven(
                offer_key=state.deflection["offer_key"],
                number=state.deflection["number"],
                call_sid=state.call_sid,
                flow_id=flow.id,
                flow_version=flow.version,
                prompt_version=texts_for(flow.locale).consent_version,
                prompt_text=state.deflection["prompt"],
                channel="sms",
                key_pressed=digit,
            ),
            locale=flow.locale,
            queue=state.queue,
            context={
                "call_sid": state.call_sid,
                "caller": state.caller,
                "called": state.called,
                "flow_id": flow.id,
                "flow_version": flow.version,
                "locale": flow.locale,
                "menu_path": state.path,
                "choices": state.choices,
                "queue": state.queue,
                "waited_seconds": waited,
                # Twilio sends QueuePosition to the waitUrl only: the place the wait loop last saw.
                "position": ctx.queue_position or state.queue_position,
                "keyed_number": state.deflection.get("keyed", False),
            },
            channels=channels,
            sms_template=state.deflection["sms_template"],
        )

    def _sending(
        self, flow: Flow, state: CallState, ctx: Context, urls: DeflectionUrls, _digit: str
    ) -> Outcome:
        texts = texts_for(flow.locale)
        if state.deflection.get("stage") == "sent":
            return Outcome(twiml.say_and_leave(None, None), state, [])
        outbox_id, status, code = self._outbox_status(state)
        if status in ACCEPTED_STATUSES:
            state.deflection["stage"] = "sent"
            sent = texts.sent.format(ending=spoken_ending(state.deflection["number"], flow.locale))
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
        polls = state.deflection.get("polls", 0) + 1
        state.deflection["polls"] = polls
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
        outbox_id = state.deflection.get("outbox_id")
        try:
            outbox_id = outbox_id or outbox_id_for(self.database, state.deflection.get("offer_key", ""))
            if outbox_id:
                return (outbox_id, *status_of(self.database, outbox_id))
        except Exception:
            log.warning(
                "outbox status unavailable (offer %s); the caller keeps waiting",
                state.deflection.get("offer_key"),
            )
        return outbox_id, "pending", None


def _range_paused(pause: RangePause, number: str) -> Event:
    """This SMS tripped a range: one alert line (numbers masked), and a durable event on this call."""
    log.warning(
        "SMS pumping trip: %d SMS to %s %s within %d s (the last to %s); offers to it are paused until "
        "%s UTC. `deflect messaging status` lists range pauses; `deflect messaging resume --range` lifts one",
        pause.count,
        pause.kind,
        mask_number(pause.range) if pause.kind == "prefix" else pause.range,
        pause.window_seconds,
        mask_number(number),
        datetime.fromtimestamp(pause.until, UTC).strftime("%Y-%m-%d %H:%M"),
    )
    return Event("sms.range_paused", pause.__dict__.copy())

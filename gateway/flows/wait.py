"""The wait loop: what a queued caller hears on each waitUrl request, and when the offer plays.

Only waitUrl verbs are used here (Play, Say, Pause, Gather, Redirect, Leave, Hangup), and only
Say inside Gather. Whether a caller may be offered deflection at all is the deflection layer's
decision (`Context.offer_allowed`); this module decides only when the offer is played.
"""

from __future__ import annotations

import math
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from gateway.channels import either, written_names
from gateway.events import Event
from gateway.flows.experiments import variant_of
from gateway.flows.model import EnqueueStep, Flow, Offer, WaitExperience
from gateway.flows.state import CallState, Context, OfferChannels, Outcome, Urls
from gateway.flows.twiml import hold_document, play_hold, say


def wait_experience(flow: Flow, state: CallState) -> WaitExperience:
    """The wait settings of the enqueue step the caller is in (defaults if the state is stale)."""
    step = flow.steps.get(state.step)
    return step.wait if isinstance(step, EnqueueStep) else WaitExperience()


def current_offer(flow: Flow, state: CallState) -> Offer | None:
    """The offer of the caller's queue as this caller gets it: with an experiment, their variant's
    fields over the offer's own (`gateway.flows.experiments`)."""
    offer = wait_experience(flow, state).offer
    if offer is None or not offer.variants:
        return offer
    return offer.for_variant(variant_of(flow, state))


def offer_due(offer: Offer, state: CallState, ctx: Context) -> bool:
    """Whether to play the offer now: allowed, not declined, offers left, far enough from the last
    one, and the caller has waited `after_seconds` or is at `min_position` or further back."""
    if not ctx.offer_allowed or state.offer_declined or state.offers_made >= offer.max_offers:
        return False
    if state.last_offer_at is not None and ctx.now - state.last_offer_at < offer.repeat_every:
        return False
    waited_enough = state.seconds_in_queue(ctx.now) >= offer.after_seconds
    far_back = (
        offer.min_position is not None
        and ctx.queue_position is not None
        and ctx.queue_position >= offer.min_position
    )
    return waited_enough or far_back


def _announcement(wait: WaitExperience, state: CallState, ctx: Context) -> dict[str, str]:
    """Texts due now, keyed 'position' / 'ewt'; empty when none is due or nothing is known."""
    if not (wait.announce_position or wait.announce_ewt):
        return {}
    last = state.last_announce_at
    if last is not None and (wait.announce_every is None or ctx.now - last < wait.announce_every):
        return {}
    texts: dict[str, str] = {}
    if wait.announce_position and wait.position_text and ctx.queue_position:
        texts["position"] = wait.position_text.format(position=ctx.queue_position)
    if wait.announce_ewt and wait.ewt_text and ctx.avg_wait_seconds:
        minutes = max(1, math.ceil(ctx.avg_wait_seconds / 60))
        texts["ewt"] = wait.ewt_text.format(minutes=minutes)
    return texts


def wait_loop(flow: Flow, state: CallState, ctx: Context, urls: Urls) -> Outcome:
    """One pass of the waitUrl: announcements when due, the offer when due, then hold music."""
    state = state.copy()
    response = VoiceResponse()
    events: list[Event] = []
    wait = wait_experience(flow, state)
    if state.enqueued_at is None:
        state.enqueued_at = ctx.now
    if ctx.queue_position is not None:
        state.queue_position = ctx.queue_position
    waited = round(state.seconds_in_queue(ctx.now))
    texts = _announcement(wait, state, ctx)
    for text in texts.values():
        say(response, flow, text)
    if texts:
        state.last_announce_at = ctx.now
        events.append(
            Event(
                "wait.announce",
                {
                    "queue": state.queue,
                    "position": ctx.queue_position,
                    "avg_wait_seconds": ctx.avg_wait_seconds,
                    "said": sorted(texts),
                },
            )
        )
    offer = current_offer(flow, state)
    if offer is not None and offer_due(offer, state, ctx):
        gather = response.gather(
            input="dtmf", num_digits=1, action=urls.offer(), method="POST", timeout=offer.timeout
        )
        channels = offered_channels(flow, offer, ctx)
        say(gather, flow, offer.prompt.format(channels=channels.said))
        state.offers_made += 1
        state.last_offer_at = ctx.now
        events.append(
            Event(
                "offer.played",
                {
                    "queue": state.queue,
                    "number": state.offers_made,
                    "waited_seconds": waited,
                    "position": ctx.queue_position,
                    "channels": list(channels.ids),
                    "variant": variant_of(flow, state),
                },
            )
        )
    # Without a key the Gather falls through to the music; the next pass decides again.
    music = wait.hold_music or flow.hold_music
    if not response.verbs:  # nothing to say on this pass (most passes): the document made once
        return Outcome(hold_document(music), state, events)
    play_hold(response, music)
    return Outcome(response, state, events)


def offered_channels(flow: Flow, offer: Offer, ctx: Context) -> OfferChannels:
    """What the offer names: the deflection layer's answer (the configured channels, said in the
    flow's voice), else the flow's own list with the channels' written names."""
    if ctx.offer_channels is not None:
        return ctx.offer_channels
    return OfferChannels(tuple(offer.channels), either(written_names(offer.channels), flow.locale))


def handle_offer_input(flow: Flow, state: CallState, ctx: Context, urls: Urls, digits: str | None) -> Outcome:
    """The caller answered the offer. The accept digit hands the call over to the deflection layer
    (which renders consent next); any other key declines for good; no key just resumes hold."""
    state = state.copy()
    offer = current_offer(flow, state)
    digit = (digits or "").strip()
    data: dict[str, Any] = {
        "queue": state.queue,
        "digit": digit or None,
        "number": state.offers_made,
        "waited_seconds": round(state.seconds_in_queue(ctx.now)),
        "position": ctx.queue_position or state.queue_position,
        "variant": variant_of(flow, state),
    }
    if offer is not None and digit == offer.accept_digit:
        data |= {"channels": list(offer.channels), "sms_template": offer.sms_template}
        return Outcome(VoiceResponse(), state, [Event("offer.accepted", data)], offer_accepted=True)
    if digit:
        state.offer_declined = True
    data["reason"] = "other_digit" if digit else "no_input"
    response = VoiceResponse()
    # This answers a Gather inside the wait loop: going back to the waitUrl keeps the place.
    response.redirect(urls.wait(), method="POST")
    return Outcome(response, state, [Event("offer.declined", data)])

"""Offer experiments: which variant of an offer a call gets. Pure and stateless: the same call, flow and
step always land in the same variant, in any process, so nothing has to be shared to split callers.

A call's bucket is the first 32 bits of sha256("<flow id>:<step id>:<CallSid>") modulo 100; the variants
take the buckets in order by their shares (30/70: buckets 0-29 and 30-99). The engine still keeps the
variant in the call's state when the call enters the queue (`CallState.variant`), and the effective
offer (the variant's fields over the offer's) is what the wait loop, the offer's answer and the
deflection layer use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from gateway.flows.model import EnqueueStep, Flow, Offer, OfferVariant
from gateway.flows.state import CallState

BUCKETS = 100


def bucket(flow_id: str, step_id: str, call_sid: str) -> int:
    """The call's bucket, 0..99, for the experiment of one enqueue step of one flow."""
    digest = hashlib.sha256(f"{flow_id}:{step_id}:{call_sid}".encode()).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def pick(variants: Sequence[OfferVariant], at: int) -> OfferVariant:
    """The variant whose cumulative share covers bucket `at` (the last one past the shares' sum)."""
    reached = 0
    for variant in variants:
        reached += variant.share
        if at < reached:
            return variant
    return variants[-1]


def assign(offer: Offer, flow_id: str, step_id: str, call_sid: str) -> str | None:
    """The id of the variant this call gets of `offer` at enqueue step `step_id` (None: no experiment)."""
    if not offer.variants:
        return None
    return pick(offer.variants, bucket(flow_id, step_id, call_sid)).id


def variant_of(flow: Flow, state: CallState) -> str | None:
    """The variant the call is in at its current (enqueue) step: the one kept in its state when it was
    queued there, else (a state from before experiments, or a stale step) worked out again, which gives
    the same answer."""
    step = flow.steps.get(state.step)
    offer = step.wait.offer if isinstance(step, EnqueueStep) else None
    if offer is None or not offer.variants:
        return None
    if state.variant_step == state.step and offer.variant(state.variant) is not None:
        return state.variant
    return assign(offer, flow.id, state.step, state.call_sid)

"""Offer experiments in a flow: variants validated, callers split by a hash of their CallSid, the call's
variant kept in its state and said in the events, and the variant's offer used by the wait loop."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path

import pytest

from gateway.flows import CallState, FlowError, handle_offer_input, run_step, wait_loop
from gateway.flows.experiments import assign, bucket, pick, variant_of
from gateway.flows.model import EnqueueStep, Flow, Offer
from gateway.flows.wait import current_offer
from tests.flows.helpers import NOW, URLS, ctx, flow_from, kinds, state_for, verbs, xml

EXPERIMENT = """
id: offer-test
locale: en-US
voice: Polly.Joanna
entry: queue
steps:
  queue:
    kind: enqueue
    queue: support
    after: bye
    wait:
      offer:
        after_seconds: 45
        min_position: 5
        max_offers: 2
        repeat_every: 120
        prompt: Press 1 to continue on {channels}.
        channels: [whatsapp, telegram]
        sms_template: chat_link
        variants:
          - id: early
            share: {early}
          - id: late
            share: {late}
            after_seconds: 90
            min_position: null
            max_offers: 1
            prompt: Tired of waiting? Press 1 for a chat link in {channels}.
            timeout: 8
  bye:
    kind: hangup
"""
FLOW = flow_from(EXPERIMENT.replace("{early}", "30").replace("{late}", "70"))


def offer_of(flow: Flow) -> Offer:
    step = flow.steps["queue"]
    assert isinstance(step, EnqueueStep) and step.wait.offer is not None
    return step.wait.offer


def sid_in(variant: str, flow: Flow = FLOW) -> str:
    """A CallSid that the flow's experiment puts in `variant`."""
    for n in range(10_000):
        sid = f"CA{n:032x}"
        if assign(offer_of(flow), flow.id, "queue", sid) == variant:
            return sid
    raise AssertionError(f"no CallSid lands in {variant}")


def queued(variant: str, seconds: float, **changes: object) -> CallState:
    state = state_for(FLOW, "queue", call_sid=sid_in(variant), **changes)
    entered = run_step(FLOW, "queue", state, ctx(now=NOW - seconds), URLS).state
    assert entered.variant == variant
    return entered


# -- the flow file ---------------------------------------------------------------------------------


def test_a_variant_overrides_only_the_fields_it_gives() -> None:
    offer = offer_of(FLOW)
    early, late = offer.for_variant("early"), offer.for_variant("late")
    assert (early.after_seconds, early.min_position, early.max_offers, early.timeout) == (45, 5, 2, 5)
    assert (late.after_seconds, late.min_position, late.max_offers, late.timeout) == (90, None, 1, 8)
    assert late.prompt.startswith("Tired of waiting?") and early.prompt == offer.prompt
    assert late.repeat_every == early.repeat_every == 120
    assert late.channels == offer.channels and late.sms_template == offer.sms_template
    assert offer.for_variant(None) is offer and offer.for_variant("gone") is offer


@pytest.mark.parametrize(
    ("early", "late", "line", "message"),
    [
        ("30", "60", 20, "wait.offer.variants: the variants' shares must sum to 100, not 30 + 60 = 90"),
        ("60", "60", 20, "wait.offer.variants: the variants' shares must sum to 100, not 60 + 60 = 120"),
        ("0", "100", 22, "wait.offer.variants.0.share: Input should be greater than or equal to 1"),
    ],
)
def test_shares_must_sum_to_100(early: str, late: str, line: int, message: str) -> None:
    with pytest.raises(FlowError) as caught:
        flow_from(EXPERIMENT.replace("{early}", early).replace("{late}", late))
    assert [(p.line, p.step, p.message) for p in caught.value.problems] == [(line, "queue", message)]


def test_an_offer_without_variants_runs_no_experiment() -> None:
    plain = flow_from(EXPERIMENT.split("        variants:")[0] + "  bye:\n    kind: hangup\n")
    assert offer_of(plain).variants is None
    outcome = run_step(plain, "queue", state_for(plain, "queue"), ctx(), URLS)
    assert kinds(outcome) == ["call.step", "queue.enqueued"] and outcome.state.variant is None


# -- assignment ------------------------------------------------------------------------------------


def test_the_bucket_is_the_first_32_bits_of_sha256_modulo_100() -> None:
    sid = "CA" + "0123456789abcdef" * 2
    digest = hashlib.sha256(f"offer-test:queue:{sid}".encode()).hexdigest()
    assert bucket("offer-test", "queue", sid) == int(digest[:8], 16) % 100
    # Pinned, so that a change of the hashing (which would move callers between variants) is seen.
    assert [bucket("f", "q", f"CA{n}") for n in range(5)] == [63, 62, 28, 37, 74]


def test_buckets_walk_the_variants_by_cumulative_share() -> None:
    variants = offer_of(FLOW).variants
    assert variants is not None
    assert [pick(variants, b).id for b in (0, 29, 30, 99)] == ["early", "early", "late", "late"]


def test_assignment_is_deterministic_and_per_step() -> None:
    offer = offer_of(FLOW)
    sids = [f"CA{n:032x}" for n in range(200)]
    first = [assign(offer, "offer-test", "queue", sid) for sid in sids]
    assert first == [assign(offer, "offer-test", "queue", sid) for sid in sids]
    # Another flow or step splits the same callers independently.
    assert first != [assign(offer, "offer-test", "other", sid) for sid in sids]


def test_10000_random_calls_split_close_to_the_shares() -> None:
    rng = random.Random(20261130)
    offer = offer_of(FLOW)
    counts = Counter(
        assign(offer, "offer-test", "queue", "CA" + rng.getrandbits(128).to_bytes(16).hex())
        for _ in range(10_000)
    )
    assert abs(counts["early"] / 10_000 - 0.30) < 0.02
    assert abs(counts["late"] / 10_000 - 0.70) < 0.02


# -- the engine ------------------------------------------------------------------------------------


def test_entering_the_queue_keeps_the_variant_and_says_it_once() -> None:
    state = state_for(FLOW, "queue", call_sid=sid_in("late"))
    outcome = run_step(FLOW, "queue", state, ctx(), URLS)
    assert kinds(outcome) == ["call.step", "queue.enqueued", "experiment.assigned"]
    assert outcome.events[-1].data == {"queue": "support", "step": "queue", "variant": "late"}
    assert (outcome.state.variant, outcome.state.variant_step) == ("late", "queue")
    # A re-enqueue (a queue error's retry) keeps the variant and does not count the call twice.
    again = run_step(FLOW, "queue", outcome.state, ctx(now=NOW + 5), URLS)
    assert "experiment.assigned" not in kinds(again) and again.state.variant == "late"


def test_the_kept_variant_wins_over_the_hash() -> None:
    """The state decides (a flow edited under the same version cannot move a caller)."""
    state = queued("early", 60)
    state.variant = "late"
    assert variant_of(FLOW, state) == "late"
    assert current_offer(FLOW, state).after_seconds == 90  # type: ignore[union-attr]
    state.variant = "gone"  # not a variant of this flow: worked out again
    assert variant_of(FLOW, state) == "early"


def test_late_is_not_offered_at_60_seconds_and_early_is() -> None:
    allowed = ctx(offer_allowed=True, queue_position=9)
    early = wait_loop(FLOW, queued("early", 60, last_announce_at=NOW), allowed, URLS)
    late = wait_loop(FLOW, queued("late", 60, last_announce_at=NOW), allowed, URLS)
    assert verbs(xml(early)) == ["Gather", "Play"]
    assert verbs(xml(late)) == ["Play"]  # and min_position 5 is off for late
    played = [e for e in early.events if e.kind == "offer.played"]
    assert played[0].data["variant"] == "early"
    assert played[0].data["waited_seconds"] == 60


def test_late_is_offered_at_90_seconds_with_its_own_prompt_and_timeout() -> None:
    outcome = wait_loop(FLOW, queued("late", 90), ctx(offer_allowed=True), URLS)
    gather = xml(outcome).find("Gather")
    assert gather is not None and gather.get("timeout") == "8"
    say = gather.find("Say")
    assert say is not None and (say.text or "").startswith("Tired of waiting? Press 1 for a chat link in")
    [played] = [e for e in outcome.events if e.kind == "offer.played"]
    assert played.data["variant"] == "late"
    # late makes one offer only
    later = wait_loop(FLOW, outcome.state, ctx(now=NOW + 600, offer_allowed=True), URLS)
    assert verbs(xml(later)) == ["Play"]


def test_the_answer_to_the_offer_carries_the_variant() -> None:
    state = queued("late", 90, offers_made=1, last_offer_at=NOW)
    accepted = handle_offer_input(FLOW, state, ctx(), URLS, "1")
    declined = handle_offer_input(FLOW, state, ctx(), URLS, "2")
    silent = handle_offer_input(FLOW, state, ctx(), URLS, None)
    assert [o.events[0].kind for o in (accepted, declined, silent)] == [
        "offer.accepted",
        "offer.declined",
        "offer.declined",
    ]
    assert {o.events[0].data["variant"] for o in (accepted, declined, silent)} == {"late"}


def test_offer_events_without_an_experiment_say_variant_none() -> None:
    plain = flow_from(EXPERIMENT.split("        variants:")[0] + "  bye:\n    kind: hangup\n")
    state = run_step(plain, "queue", state_for(plain, "queue"), ctx(now=NOW - 60), URLS).state
    outcome = wait_loop(plain, state, ctx(offer_allowed=True), URLS)
    [played] = [e for e in outcome.events if e.kind == "offer.played"]
    assert played.data["variant"] is None


def test_the_variant_survives_the_state_round_trip() -> None:
    state = queued("late", 10)
    restored = CallState.from_dict(state.to_dict())
    assert (restored.variant, restored.variant_step) == ("late", "queue")


def test_the_documented_example_is_a_valid_flow_with_its_shares() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "experiments.md").read_text(encoding="utf-8")
    example = doc.split("```yaml", 1)[1].split("```", 1)[0]
    flow = flow_from(example)
    offer = offer_of(flow)
    assert [(v.id, v.share) for v in offer.variants or ()] == [("early", 30), ("late", 70)]
    late = offer.for_variant("late")
    assert (late.after_seconds, late.min_position) == (90, None)
    assert offer.for_variant("early").min_position == 5

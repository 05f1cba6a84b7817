"""An offer experiment through the real, signed voice webhooks: a published flow splits its callers
into an early (45 s) and a late (90 s) offer, the events say which variant each call got, and a call
keeps its variant when the flow is published again mid-call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.clock import ManualClock
from gateway.flows import parse_flow
from gateway.flows.experiments import assign
from gateway.flows.model import EnqueueStep, Flow
from gateway.reporting.stats import compare
from gateway.store.models import CallEvent, CallFact
from tests.support.calls import Call, TwiML

NUMBER = "+74957770011"
FLOW = """
id: offer-experiment
locale: ru-RU
voice: Polly.Tatyana
numbers: ["{number}"]
home_regions: [RU]
entry: queue
steps:
  queue:
    kind: enqueue
    queue: bank-cards
    wait:
      offer:
        after_seconds: 45
        prompt: Не хотите ждать? Нажмите 1, и мы пришлём ссылку на чат в {channels}.
        channels: [whatsapp, telegram]
        sms_template: channel_choice
        variants:
          - id: early
            share: {early}
          - id: late
            share: {late}
            after_seconds: {late_after}
"""


def flow_text(early: int = 50, late: int = 50, late_after: int = 90) -> str:
    return (
        FLOW.replace("{number}", NUMBER)
        .replace("{early}", str(early))
        .replace("{late}", str(late))
        .replace("{late_after}", str(late_after))
    )


def publish(app: Any, text: str, comment: str) -> int:
    services = app.extensions["deflect"]
    services.content.save_draft("flow", {"offer_experiment.yaml": text}, actor="anna")
    return int(services.content.publish("flow", "offer-experiment", actor="anna", comment=comment).version)


def variant_of_sid(flow: Flow, call_sid: str) -> str | None:
    step = flow.steps["queue"]
    assert isinstance(step, EnqueueStep) and step.wait.offer is not None
    return assign(step.wait.offer, flow.id, "queue", call_sid)


def sid_in(flow: Flow, variant: str) -> str:
    """The first of CA00..01, CA00..02... that the flow's experiment puts in `variant`."""
    return next(f"CA{n:032x}" for n in range(10_000) if variant_of_sid(flow, f"CA{n:032x}") == variant)


def events(app: Any, call: Call, kind: str) -> list[dict[str, Any]]:
    with app.extensions["deflect"].database.session() as session:
        rows = session.scalars(
            select(CallEvent)
            .where(CallEvent.call_sid == call.call_sid, CallEvent.kind == kind)
            .order_by(CallEvent.id)
        )
        return [row.data for row in rows]


def queued_call(app: Any, flow: Flow, variant: str, caller: str) -> tuple[Call, TwiML]:
    call = Call(app.test_client(), caller=caller, called=NUMBER, call_sid=sid_in(flow, variant))
    entered = call.incoming()
    assert entered.find("Enqueue").text == "bank-cards"
    return call, call.wait()


def test_late_is_not_offered_at_60_seconds_early_is_and_the_events_say_which(
    make_app: Any, clock: ManualClock
) -> None:
    app = make_app()
    app.extensions["deflect"].registry.check_interval = 0  # follow the live pointers at every request
    publish(app, flow_text(), "experiment: offer at 45 s or 90 s")
    flow = parse_flow(flow_text(), "test")
    early, first = queued_call(app, flow, "early", "+79161234501")
    late, _ = queued_call(app, flow, "late", "+79161234502")
    assert first.all("Gather") == []

    clock.advance(60)
    early_offer = early.wait()
    late_pass = late.wait()
    assert early_offer.find("Gather").attrib["action"].endswith("/twilio/voice/offer")
    assert "WhatsApp" in early_offer.said()
    assert late_pass.all("Gather") == [] and late_pass.verbs()[-1] == "Play"

    clock.advance(35)  # 95 s: late's turn
    late_offer = late.wait()
    assert late_offer.all("Gather")
    early.press(early_offer, "1")  # accepted: the consent question follows
    late.press(late_offer, "2")  # declined

    for call, variant in ((early, "early"), (late, "late")):
        assert events(app, call, "experiment.assigned") == [
            {"queue": "bank-cards", "step": "queue", "variant": variant}
        ]
        [played] = events(app, call, "offer.played")
        assert played["variant"] == variant
    assert events(app, early, "offer.played")[0]["waited_seconds"] == 60
    assert events(app, late, "offer.played")[0]["waited_seconds"] == 95
    assert [e["variant"] for e in events(app, early, "offer.accepted")] == ["early"]
    assert [e["variant"] for e in events(app, late, "offer.declined")] == ["late"]


def test_a_call_keeps_its_variant_when_the_flow_is_published_again_mid_call(
    make_app: Any, clock: ManualClock
) -> None:
    app = make_app()
    app.extensions["deflect"].registry.check_interval = 0  # follow the live pointers at every request
    assert publish(app, flow_text(), "experiment") == 1
    v1 = parse_flow(flow_text(), "test")
    waiting, _ = queued_call(app, v1, "late", "+79161234503")

    # v2: almost everyone early, and late's offer at 30 s. The call in progress stays on v1.
    v2_text = flow_text(early=99, late=1, late_after=30)
    assert publish(app, v2_text, "late at 30 s") == 2
    clock.advance(60)
    assert waiting.wait().all("Gather") == []  # still v1's late: 90 s
    clock.advance(35)
    assert waiting.wait().all("Gather")
    assert [e["variant"] for e in events(app, waiting, "offer.played")] == ["late"]
    assert [e["variant"] for e in events(app, waiting, "experiment.assigned")] == ["late"]

    # A new call with a CallSid that v1 put in late and v2 puts in early gets v2's split.
    v2 = parse_flow(v2_text, "test")
    sid = next(
        f"CA{n:032x}"
        for n in range(1, 10_000)
        if variant_of_sid(v1, f"CA{n:032x}") == "late"
        and variant_of_sid(v2, f"CA{n:032x}") == "early"
        and f"CA{n:032x}" != waiting.call_sid
    )
    newcomer = Call(app.test_client(), caller="+79161234504", called=NUMBER, call_sid=sid)
    newcomer.incoming()
    newcomer.wait()
    assert [e["variant"] for e in events(app, newcomer, "experiment.assigned")] == ["early"]
    started = events(app, newcomer, "call.started")
    assert started[0]["flow_version"] == 2


def test_the_reports_fold_each_call_into_its_variant_and_compare_them(
    make_app: Any, clock: ManualClock
) -> None:
    """The event contract end to end: the reports' facts carry the variant of experiment.assigned."""
    app = make_app()
    app.extensions["deflect"].registry.check_interval = 0
    publish(app, flow_text(), "experiment")
    flow = parse_flow(flow_text(), "test")
    early, _ = queued_call(app, flow, "early", "+79161234505")
    late, _ = queued_call(app, flow, "late", "+79161234506")
    clock.advance(95)
    early.press(early.wait(), "1")  # early: offered and accepted
    late.press(late.wait(), "2")  # late: offered and declined

    reports = app.extensions["deflect"].reports
    list(reports.refresh())
    with reports.database.session() as session:
        facts = {sid: session.get(CallFact, sid) for sid in (early.call_sid, late.call_sid)}
        variants = {sid: (f.variant, f.offers, f.accepted_at is not None) for sid, f in facts.items() if f}
    assert variants == {early.call_sid: ("early", 1, True), late.call_sid: ("late", 1, False)}
    result = compare(baseline=(1, 1), other=(0, 1))
    assert (result.difference, result.significant, result.verdict) == (-1.0, False, "not yet significant")

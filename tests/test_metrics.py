"""What a process counts from the call events it records, and labels that can only be our own words."""

from __future__ import annotations

from typing import Any

from gateway.events import Event
from gateway.metrics import Metrics, label


def _count(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return found or 0.0


def test_call_events_become_the_offer_funnel_refusals_and_chats() -> None:
    metrics = Metrics()
    metrics.observe_events(
        [
            Event("offer.played", {"queue": "bank-cards"}),
            Event("offer.refused", {"reason": "messaging_paused"}),
            Event("offer.accepted", {}),
            Event("sms.queued", {"outbox_id": 7}),
            Event("chat.started", {"channel": "telegram", "match": "link"}),
            Event("wait.announce", {"position": 3}),  # not counted
        ]
    )
    assert _count(metrics, "deflect_offers_total", outcome="made") == 1
    assert _count(metrics, "deflect_offers_total", outcome="accepted") == 1
    assert _count(metrics, "deflect_offers_total", outcome="sms_queued") == 1
    assert _count(metrics, "deflect_offer_refusals_total", reason="messaging_paused") == 1
    assert _count(metrics, "deflect_chats_started_total", channel="telegram") == 1


def test_a_label_is_never_a_number_a_body_or_anything_not_ours() -> None:
    odd: list[Any] = ["+79161234567", "79161234567", "Здравствуйте", "a b", "x" * 41, "", None]
    assert [label(value) for value in odd] == ["other"] * 6 + ["none"]
    assert label("range_paused") == "range_paused"
    metrics = Metrics()
    metrics.observe_events([Event("offer.refused", {"reason": "+79161234567"})])
    assert _count(metrics, "deflect_offer_refusals_total", reason="other") == 1

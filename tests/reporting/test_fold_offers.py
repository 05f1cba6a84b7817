"""Folding an offer twice (a call whose events straddle two fold batches: its fact is made from all its
stored events, then the next batch brings some of them again) counts each offer once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.reporting.facts import Fact, fold

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_an_offer_event_read_twice_is_one_offer() -> None:
    fact = Fact("CA" + "1" * 32, "+79161234567", "ru-bank-support", 1, "ru-RU", "bank-cards", AT, AT)
    first = ("offer.played", {"queue": "bank-cards", "number": 1}, AT + timedelta(seconds=45))
    second = ("offer.played", {"queue": "bank-cards", "number": 2}, AT + timedelta(seconds=165))
    once = fold(fact, [first, second])
    assert once.offers == 2
    assert fold(once, [first]).offers == 2
    assert fold(once, [first, second]).offers == 2
    assert fold(fold(fact, [first]), [first]).offers == 1

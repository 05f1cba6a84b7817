"""The atomic SMS claim against a real Redis: windows per range, caller and keyed-in number, pauses
checked inside the claim, and the velocity trip that pauses one range only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.deflection.limits import Limits, NumberRanges, SenderThrottle, SmsGuard, ranges_of
from gateway.services import sms_limits
from gateway.settings import load_settings

NOW = 1_795_478_400.0  # a UTC midnight: hours and the day are whole windows inside a test


def _guard(app: Any, **limits: int) -> SmsGuard:
    base = dict(retext_seconds=3600, per_prefix_hour=1000, per_minute=1000, per_day=1000, sender_mps=2)
    return SmsGuard(app.extensions["deflect"].redis, Limits(**{**base, **limits}))


@pytest.fixture
def guard(app: Any) -> SmsGuard:
    return _guard(app, per_prefix_hour=2, per_minute=3, per_day=4)


def test_guard_claims_atomically_and_in_order(guard: SmsGuard) -> None:
    assert guard.claim("+79161234567", NOW).refusal is None
    assert guard.claim("+79161234567", NOW).refusal == "texted_recently"
    assert guard.claim("+79161234568", NOW).refusal is None
    assert guard.claim("+79161234569", NOW).refusal == "prefix_rate_limit"  # same +7916123 prefix, 2 an hour
    assert guard.claim("+77011234567", NOW).refusal is None
    assert guard.claim("+77021234567", NOW).refusal == "global_rate_limit"  # 3 a minute
    assert guard.claim("+77021234567", NOW + 60).refusal is None
    assert guard.budget_left(NOW) == 0
    assert guard.claim("+77031234567", NOW + 120).refusal == "daily_budget_spent"


def test_released_slot_can_be_claimed_again(guard: SmsGuard) -> None:
    claim = guard.claim("+79161234567", NOW)
    assert claim.granted
    guard.release(claim)
    assert guard.claim("+79161234567", NOW).refusal is None
    assert guard.budget_left(NOW) == 3


def test_sender_throughput_makes_bursts_wait(guard: SmsGuard) -> None:
    assert guard.sender_slot("+77012345678", NOW + 0.1) == 0
    assert guard.sender_slot("+77012345678", NOW + 0.2) == 0
    wait = guard.sender_slot("+77012345678", NOW + 0.3)
    assert 0.7 <= wait <= 0.72
    assert guard.sender_slot("+77012345678", NOW + 1.0) == 0


def test_a_batch_asks_for_its_sender_slots_at_once_and_keeps_the_limit(app: Any) -> None:
    guard = _guard(app, sender_mps=3)
    now = [NOW + 0.1]
    throttle = SenderThrottle(guard, "+77012345678", lambda: now[0])
    asked = app.extensions["deflect"].redis
    assert [throttle(5), throttle(4), throttle(3)] == [0, 0, 0]
    assert asked.get(f"deflect:mps:+77012345678:{int(NOW)}") == b"5"  # one INCRBY for the batch
    now[0] = NOW + 0.5
    assert 0.5 <= throttle(2) <= 0.52  # 3 a second: the 4th message waits for the next second
    other = SenderThrottle(guard, "+77012345678", lambda: now[0])
    assert other(1) > 0  # another worker's batch finds the second used up too
    now[0] = NOW + 1.2
    assert [throttle(2), throttle(1)] == [0, 0]


def test_slots_left_over_from_a_second_are_not_used_in_the_next(app: Any) -> None:
    guard = _guard(app, sender_mps=10)
    now = [NOW + 0.9]
    throttle = SenderThrottle(guard, "+77012345678", lambda: now[0])
    assert throttle(10) == 0  # 10 granted for this second, 1 used
    now[0] = NOW + 1.1
    assert throttle(9) == 0  # a new grant for the new second, counted there
    redis = app.extensions["deflect"].redis
    assert redis.get(f"deflect:mps:+77012345678:{int(NOW) + 1}") == b"9"


@pytest.mark.parametrize(
    ("number", "ranges"),
    [
        ("+79161234567", NumberRanges("RU", "+7916", "+7916123")),
        ("+77011234567", NumberRanges("KZ", "+7701", "+7701123")),  # +7 shared, limits are not
        ("+14155550123", NumberRanges("US", "+1415", "+1415555")),
        ("+447911123456", NumberRanges("GG", "+447911", "+44791112")),
        ("+59171234567", NumberRanges("BO", "+59171", "+5917123")),  # no NDC known: 2 digits stand in
        ("+6591234567", NumberRanges("SG", "+659123", "+659123")),  # never finer than the prefix
    ],
)
def test_a_number_is_counted_in_its_country_destination_code_and_prefix(
    number: str, ranges: NumberRanges
) -> None:
    assert ranges_of(number) == ranges


def test_a_destination_code_has_its_own_hourly_window_across_prefixes(app: Any) -> None:
    guard = _guard(app, per_ndc_hour=3)
    assert [guard.claim(f"+791600{n}0000", NOW).refusal for n in range(4)] == [
        None,
        None,
        None,
        "ndc_rate_limit",
    ]
    assert guard.claim("+79261230000", NOW).granted  # another destination code
    assert guard.claim("+79160040000", NOW + 3600).granted  # the next hour


def test_a_country_has_its_own_hourly_and_daily_windows(app: Any) -> None:
    guard = _guard(app, per_country_hour=2, per_country_day=3)
    assert guard.claim("+79161110000", NOW).granted
    assert guard.claim("+79262220000", NOW).granted
    assert guard.claim("+79033330000", NOW).refusal == "country_rate_limit"
    assert guard.claim("+77011234567", NOW).granted  # Kazakhstan shares +7, not its limits
    assert guard.claim("+79033330000", NOW + 3600).granted
    assert guard.claim("+79054440000", NOW + 7200).refusal == "country_daily_limit"


def test_one_caller_triggers_at_most_the_daily_cap_whatever_number_is_texted(app: Any) -> None:
    guard = _guard(app, per_caller_day=2)
    caller = "+74951234567"
    assert guard.claim("+79161110000", NOW, caller=caller, keyed=True).granted
    assert guard.claim("+79262220000", NOW + 600, caller=caller, keyed=True).granted
    refused = guard.claim("+79033330000", NOW + 1200, caller=caller, keyed=True)
    assert refused.refusal == "caller_daily_limit"
    assert guard.claim("+79033330000", NOW + 1200, caller="+74957654321", keyed=True).granted


def test_a_keyed_in_number_gets_at_most_its_daily_cap_even_without_a_retext_window(app: Any) -> None:
    guard = _guard(app, retext_seconds=0, per_keyed_number_day=1)
    assert guard.claim("+79161110000", NOW, caller="+74951234567", keyed=True).granted
    again = guard.claim("+79161110000", NOW + 60, caller="+74957654321", keyed=True)
    assert again.refusal == "keyed_number_limit"
    assert guard.claim("+79161110000", NOW + 120, caller="+79161110000").granted  # its holder calls


def test_a_pause_set_after_the_offer_holds_inside_the_claim(app: Any) -> None:
    guard = _guard(app)
    guards = app.extensions["deflect"].guards
    guards.switch.set(True, actor="test", reason="chat team overloaded")
    assert guard.claim("+79161234567", NOW).refusal == "messaging_paused"
    guards.switch.set(False, actor="test", reason="back")
    assert guard.claim("+79161234567", NOW).granted


def test_a_prefix_texted_abnormally_fast_is_paused_alone(app: Any) -> None:
    guard = _guard(app, trip_per_prefix=3, trip_window=600, trip_pause=86400)
    first, second = guard.claim("+79161230001", NOW), guard.claim("+79161230002", NOW + 100)
    third = guard.claim("+79161230003", NOW + 200)
    assert (first.tripped, second.tripped) == ((), ())
    assert third.granted  # the third is within the threshold; it pauses what comes after
    (pause,) = third.tripped
    assert (pause.kind, pause.range, pause.count, pause.until) == ("prefix", "+7916123", 3, NOW + 200 + 86400)
    assert guard.claim("+79161239999", NOW + 300).refusal == "range_paused"
    assert guard.claim("+79161240000", NOW + 300).granted  # the neighbouring prefix keeps working
    guards = app.extensions["deflect"].guards
    assert [p.range for p in guards.range_pauses()] == ["+7916123"]
    assert guards.range_pause("+79161235555") == pause
    guards.lift("+7916123", actor="test")
    assert guard.claim("+79161239999", NOW + 400).granted


def test_a_slow_trickle_to_one_prefix_does_not_trip(app: Any) -> None:
    guard = _guard(app, trip_per_prefix=3, trip_window=600)
    claims = [guard.claim(f"+7916123000{n}", NOW + n * 301) for n in range(6)]
    assert all(c.granted and not c.tripped for c in claims)


def test_a_destination_code_trips_when_its_prefixes_are_texted_in_turn(app: Any) -> None:
    guard = _guard(app, trip_per_prefix=3, trip_per_ndc=4, trip_window=600)
    claims = [guard.claim(f"+7916{n}000000", NOW + n) for n in range(4)]
    assert [p.kind for p in claims[3].tripped] == ["ndc"]
    assert guard.claim("+79169000000", NOW + 10).refusal == "range_paused"
    assert guard.claim("+79261234567", NOW + 10).granted


def test_a_trip_is_reported_once(app: Any) -> None:
    guard = _guard(app, trip_per_prefix=2, retext_seconds=0)
    trips = [guard.claim("+79161230001", NOW + n).tripped for n in range(2)]
    app.extensions["deflect"].guards.lift("+7916123", actor="test")
    later = guard.claim("+79161230001", NOW + 5)  # trips again: a new pause, reported again
    assert [len(t) for t in trips] == [0, 1] and len(later.tripped) == 1


def test_a_released_claim_leaves_the_trip_window(app: Any) -> None:
    guard = _guard(app, trip_per_prefix=2)
    guard.release(guard.claim("+79161230001", NOW))
    assert not guard.claim("+79161230002", NOW + 1).tripped


def _in_turn(n: int) -> str:
    """The n-th number of a pumped 100,000-number range, each of its 10 prefixes in turn."""
    return f"+791612{n % 10}{(n // 10) % 10_000:04d}"


@pytest.fixture
def default_guard(app: Any, tmp_path: Path) -> SmsGuard:
    return SmsGuard(
        app.extensions["deflect"].redis,
        sms_limits(load_settings({"DEFLECT_DATA_DIR": str(tmp_path)}, environ={})),
    )


def test_a_burst_on_a_100k_range_gets_30_sms_then_its_destination_code_is_paused(
    default_guard: SmsGuard,
) -> None:
    granted = [n for n in range(600) if default_guard.claim(_in_turn(n), NOW + n, caller=_in_turn(n)).granted]
    assert len(granted) == 30  # it used to get 200 an hour, then the whole day's budget
    assert default_guard.claim(_in_turn(600), NOW + 86000).refusal == "range_paused"
    assert default_guard.claim("+79261234567", NOW + 700).granted


def test_a_100k_range_paced_under_the_trip_gets_60_sms_an_hour_and_400_a_day(default_guard: SmsGuard) -> None:
    per_hour: Counter[int] = Counter()
    for n in range(24 * 60):  # one every minute, each prefix in turn: 1 per prefix per 10 minutes
        if default_guard.claim(_in_turn(n), NOW + 60 * n, caller=_in_turn(n)).granted:
            per_hour[n // 60] += 1
    assert max(per_hour.values()) == 60 and sum(per_hour.values()) == 400
    assert default_guard.budget_left(NOW) == 1600  # the rest of the day is everybody else's

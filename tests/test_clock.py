"""The one clock: the system's outside tests, a manual one that only moves when told (tests, simulator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.clock import ManualClock, SystemClock


def test_manual_clock_gives_one_instant_as_seconds_and_as_utc() -> None:
    clock = ManualClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))

    assert clock.now() == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert clock.time() == clock.now().timestamp()
    assert clock.now().tzinfo is UTC


def test_manual_clock_moves_only_when_told_and_sleeping_moves_it() -> None:
    clock = ManualClock(1_800_000_000.0)
    clock.advance(90)
    clock.sleep(0.5)  # a throttle waiting on the simulator's clock must not hang

    assert clock.time() == 1_800_000_090.5
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2030, 1, 1, tzinfo=UTC)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ManualClock(datetime(2026, 11, 24, 9, 0))


def test_system_clock_follows_the_machine(time_machine: object) -> None:
    time_machine.move_to(datetime(2031, 6, 1, 12, 0, tzinfo=UTC), tick=False)  # type: ignore[attr-defined]

    assert SystemClock().now() == datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
    assert abs(SystemClock().time() - SystemClock().now().timestamp()) < timedelta(seconds=1).total_seconds()


def test_services_share_one_clock(make_app: object, clock: ManualClock) -> None:
    app = make_app()  # type: ignore[operator]
    services = app.extensions["deflect"]

    assert services.clock is clock
    assert services.voice.clock is clock

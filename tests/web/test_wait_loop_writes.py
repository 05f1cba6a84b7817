"""The wait loop's hot path writes to Redis only what changed: a pass that leaves the call's state and
the queue's figures as they were costs one read, and the hold music is the document made once."""

from __future__ import annotations

from typing import Any

from gateway.calls.queue_stats import REWRITE_SECONDS
from gateway.clock import ManualClock
from gateway.flows.twiml import hold_document
from tests.support.calls import Call


def _writes(app: Any) -> int:
    """SET and HSET commands the Redis server has run so far."""
    stats = app.extensions["deflect"].redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("set", "hset"))


def _queued(call: Call) -> None:
    call.queue_position, call.queue_size = 3, 5
    call.press(call.press(call.incoming(), "1"), "2")  # the bank-cards queue
    call.wait()  # first pass: enqueued, announcements


def test_a_wait_pass_that_changes_nothing_writes_nothing(app: Any, call: Call, clock: ManualClock) -> None:
    _queued(call)
    clock.advance(1)
    call.wait()  # the position announcement is not due again: settles
    before = _writes(app)
    for _ in range(3):
        clock.advance(1)
        answer = call.wait()
        assert answer.verbs() == ["Play"]
    assert _writes(app) == before
    state_key = "deflect:call:" + call.call_sid
    assert app.extensions["deflect"].redis.ttl(state_key) > 0


def test_a_new_queue_position_is_kept(app: Any, call: Call, clock: ManualClock) -> None:
    _queued(call)
    before = _writes(app)
    clock.advance(1)
    call.queue_position = 2
    call.wait()
    assert _writes(app) == before + 1  # the state (the queue's figures are the same)
    assert app.extensions["deflect"].voice.states.load(call.call_sid).queue_position == 2


def test_the_queue_figures_are_written_when_they_change_and_again_after_a_while(
    app: Any, call: Call, clock: ManualClock
) -> None:
    _queued(call)
    redis = app.extensions["deflect"].redis
    clock.advance(1)
    call.queue_size = 6
    call.wait()
    assert b'"size": 6' in redis.hget("deflect:queues", "bank-cards")
    redis.hdel("deflect:queues", "bank-cards")
    clock.advance(1)
    call.wait()  # the same figures, just written
    assert redis.hget("deflect:queues", "bank-cards") is None
    clock.advance(REWRITE_SECONDS)
    call.wait()
    assert b'"size": 6' in redis.hget("deflect:queues", "bank-cards")


def test_the_hold_document_is_made_once_per_music_and_cannot_be_changed() -> None:
    first = hold_document("https://music.example.test/a.mp3")
    assert hold_document("https://music.example.test/a.mp3") is first
    other = hold_document("https://music.example.test/b.mp3")  # a flow version with other music
    assert other is not first
    assert "b.mp3" in str(other) and "a.mp3" not in str(other)
    try:
        first.say("anything")
    except Exception as exc:
        assert "shared" in str(exc)
    else:
        raise AssertionError("a shared hold document was changed")
    assert "anything" not in str(hold_document("https://music.example.test/a.mp3"))

"""The manual pause of offers is a recorded switch: who, when and why are kept in the database, so a
Redis restart does not quietly resume offers, and the audit log has every flip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.clock import ManualClock
from gateway.deflection.limits import PAUSE_KEY
from tests.deflection.conftest import offer_heard
from tests.support.calls import Call
from tests.support.servers import RedisServer


def test_a_pause_survives_a_redis_restart(make_app: Any, clock: ManualClock, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        app = make_app(REDIS_URL=server.url)
        switch, paused_at = app.extensions["deflect"].guards.switch, clock.now()
        switch.set(True, actor="anna", reason="chat team overloaded")

        server.stop()
        server.start()  # no persistence: this Redis has forgotten everything
        assert not app.extensions["deflect"].redis.exists(PAUSE_KEY)

        assert not offer_heard(Call(app.test_client()), clock)
        assert app.extensions["deflect"].redis.exists(PAUSE_KEY)  # the mirror is back
        state = switch.state()
        assert (state.paused, state.actor, state.reason) == (True, "anna", "chat team overloaded")
        assert state.at == paused_at
    finally:
        server.stop()


def test_every_flip_is_in_the_audit_log_with_who_and_why(app: Any, clock: ManualClock) -> None:
    services = app.extensions["deflect"]
    services.guards.switch.set(True, actor="anna", reason="chat team overloaded")
    clock.advance(600)
    services.guards.switch.set(False, actor="boris", reason="backlog cleared")

    entries = services.content.store.audit("messaging", 10)

    assert [(e.actor, e.action, e.before, e.after, e.detail) for e in entries] == [
        ("boris", "messaging.resumed", "paused", "on", {"reason": "backlog cleared"}),
        ("anna", "messaging.paused", "on", "paused", {"reason": "chat team overloaded"}),
    ]
    assert not services.guards.switch.state().paused

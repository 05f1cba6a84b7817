"""Live call state in Redis, keyed by CallSid, with a TTL: it may expire or be lost, and the call
then carries on from the hold experience. Never in URLs a caller could tamper with."""

from __future__ import annotations

import json
from typing import Any

import redis

from gateway.flows.state import CallState

# Longer than any call we expect; a state outliving its call is harmless and then expires.
STATE_TTL_SECONDS = 6 * 3600
_PREFIX = "deflect:call:"


class CallStateStore:
    def __init__(self, connection: redis.Redis) -> None:
        self.redis = connection

    def load(self, call_sid: str) -> CallState | None:
        raw = self.redis.get(_PREFIX + call_sid)
        if raw is None:
            return None
        return CallState.from_dict(json.loads(raw), owned=True)

    def save(self, state: CallState, pipeline: Any = None) -> None:
        target = pipeline if pipeline is not None else self.redis
        target.set(
            _PREFIX + state.call_sid, json.dumps(state.to_dict(), ensure_ascii=False), ex=STATE_TTL_SECONDS
        )

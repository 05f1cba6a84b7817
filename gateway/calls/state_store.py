"""Live call state in Redis, keyed by CallSid, with a TTL: it may expire or be lost, and the call
then carries on from the hold experience. Never in URLs a caller could tamper with.

A webhook that changed nothing (most passes of the wait loop) writes nothing back: `load_stored` gives
the state with its stored encoding, and `save(..., unless=...)` skips a state that encodes the same.
The TTL then runs from the last change, which is still far longer than any call (Twilio ends a call
after 4 hours unless told otherwise).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from gateway.flows.state import CallState

# Longer than any call we expect; a state outliving its call is harmless and then expires.
STATE_TTL_SECONDS = 6 * 3600
_PREFIX = "deflect:call:"


def encode(state: CallState) -> bytes:
    return json.dumps(state.to_dict(), ensure_ascii=False).encode()


class CallStateStore:
    def __init__(self, connection: redis.Redis) -> None:
        self.redis = connection

    def load(self, call_sid: str) -> CallState | None:
        stored = self.load_stored(call_sid)
        return stored[0] if stored is not None else None

    def load_stored(self, call_sid: str) -> tuple[CallState, bytes] | None:
        """The state and the bytes it was stored as (for `save(..., unless=...)`)."""
        raw = self.redis.get(_PREFIX + call_sid)
        if raw is None:
            return None
        stored = raw if isinstance(raw, bytes) else raw.encode()
        return CallState.from_dict(json.loads(stored), owned=True), stored

    def save(self, state: CallState, pipeline: Any = None, *, unless: bytes | None = None) -> bool:
        """Store `state` (on `pipeline` if given); nothing when it encodes as `unless`, the bytes it
        was loaded from. Whether it was written."""
        data = encode(state)
        if data == unless:
            return False
        target = pipeline if pipeline is not None else self.redis
        target.set(_PREFIX + state.call_sid, data, ex=STATE_TTL_SECONDS)
        return True

"""Failed lookups per chat sender: a message whose reference or link token did not give its sender a
session counts one; a sender at `DEFLECT_CHAT_LOOKUP_LIMIT` in the current window is not matched at all
until the next window, so guessing references one message at a time goes nowhere either.

Counters live in Redis (rate-limit state: may be lost, rebuilt by the next failures), in fixed windows
of the gateway's clock. If Redis is unreachable the check lets the message through: a lookup alone
cannot take a session from another number (see `gateway.handoff.matching`), so the limit is a second
line, and the chat must still reach an agent.

The console's agents are limited the same way, on every look-up of a chat (`gateway.handoff.finder`),
with counters of their own (`AGENT_KEY_PREFIX`).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

import redis

log = logging.getLogger(__name__)

KEY_PREFIX = "deflect:chat:lookups"
AGENT_KEY_PREFIX = "deflect:agent:lookups"


class LookupLimiter:
    def __init__(
        self, connection: redis.Redis, limit: int, window_seconds: int, *, prefix: str = KEY_PREFIX
    ) -> None:
        self.redis = connection
        self.limit = limit
        self.window = window_seconds
        self.prefix = prefix

    def limited(self, sender: str, now: datetime) -> bool:
        """True when `sender` has used up its failed lookups in the current window."""
        try:
            count = self.redis.get(self._key(sender, now))
        except redis.RedisError as exc:
            log.warning("failed-lookup count unavailable (%s); not limiting", type(exc).__name__)
            return False
        return int(count or 0) >= self.limit

    def failed(self, sender: str, now: datetime) -> None:
        """Count one failed lookup for `sender`."""
        self.count(sender, now)

    def count(self, sender: str, now: datetime) -> None:
        """Count one lookup for `sender` (a limit on every lookup, found or not, counts them all)."""
        key = self._key(sender, now)
        try:
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, self.window * 2)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("failed lookup not counted (%s)", type(exc).__name__)

    def _key(self, sender: str, now: datetime) -> str:
        # The sender is a phone number or a messenger id: hashed, so Redis keys hold no personal data.
        digest = hashlib.sha256(sender.encode()).hexdigest()[:24]
        return f"{self.prefix}:{digest}:{int(now.timestamp()) // self.window}"

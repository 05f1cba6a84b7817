"""SMS pumping guards in Redis: per-number, per-prefix and global rate limits and the daily budget,
claimed atomically (one Lua script), so two processes cannot both take the last slot.

Counters may be lost with Redis; the database keeps the durable record (the outbox), which
eligibility also consults for "texted recently".
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

_CLAIM = """
local retext_ttl = tonumber(ARGV[1])
if retext_ttl > 0 and redis.call('EXISTS', KEYS[1]) == 1 then return 'texted_recently' end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return 'prefix_rate_limit' end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[3]) then return 'global_rate_limit' end
if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[4]) then return 'daily_budget_spent' end
if retext_ttl > 0 then redis.call('SET', KEYS[1], '1', 'EX', retext_ttl) end
local ttls = {0, 3600, 120, 90000}
for i = 2, 4 do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ttls[i]) end
end
return 'ok'
"""

_RELEASE = """
redis.call('DEL', KEYS[1])
for i = 2, 4 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 'ok'
"""


@dataclass(frozen=True)
class Limits:
    retext_seconds: int
    per_prefix_hour: int
    per_minute: int
    per_day: int
    sender_mps: int


class SmsGuard:
    def __init__(self, connection: redis.Redis, limits: Limits) -> None:
        self.redis = connection
        self.limits = limits
        self._claim = connection.register_script(_CLAIM)
        self._release = connection.register_script(_RELEASE)

    def _keys(self, number: str, now: float) -> list[str]:
        prefix = number[:-4]
        hour, minute, day = int(now // 3600), int(now // 60), time.strftime("%Y%m%d", time.gmtime(now))
        return [
            f"deflect:texted:{number}",
            f"deflect:sms:prefix:{prefix}:{hour}",
            f"deflect:sms:minute:{minute}",
            f"deflect:sms:day:{day}",
        ]

    def claim(self, number: str, now: float) -> str | None:
        """Take one SMS slot for this number; returns the refusal reason, or None when granted."""
        result = self._claim(
            keys=self._keys(number, now),
            args=[
                self.limits.retext_seconds,
                self.limits.per_prefix_hour,
                self.limits.per_minute,
                self.limits.per_day,
            ],
        )
        text = result.decode() if isinstance(result, bytes) else str(result)
        return None if text == "ok" else text

    def release(self, number: str, now: float) -> None:
        """Give the slot back (the offer could not be recorded, or the number was refused)."""
        self._release(keys=self._keys(number, now))

    def budget_left(self, now: float) -> int:
        used = self.redis.get(self._keys("+0000", now)[3])
        return self.limits.per_day - int(used or 0)

    def sender_slot(self, sender: str, now: float) -> float:
        """Per-sender throughput: 0 when this message may go now, else seconds to wait."""
        second = int(now)
        key = f"deflect:mps:{sender}:{second}"
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 5)
        count = pipe.execute()[0]
        if count <= self.limits.sender_mps:
            return 0.0
        return (second + 1) - now + 0.01

"""SMS pumping guards in Redis, claimed atomically (one Lua script), so two processes cannot both take
the last slot, and a pause an admin (or a trip) sets between the offer and the key press still holds.

One claim checks, in order: the manual pause, a pause of the number's ranges, "texted recently", then
the windows (per keyed-in number and per caller per day; per prefix, per national destination code and
per country per hour; in all per minute; per destination code, per country and in all per day). A
granted claim counts in every window and in the trip windows of its prefix and destination code: a
range texted abnormally fast is paused on its own (`RangePause`, with a TTL), and every other range
keeps working.

Counters, pauses and trips may be lost with Redis (they are rebuilt by use); the database keeps the
durable record: the outbox, which eligibility also consults for "texted recently", and a
`sms.range_paused` call event for each trip.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
import redis

PAUSE_KEY = "deflect:messaging:paused"
RANGE_PAUSE_KEY = "deflect:messaging:paused:{kind}:{range}"
RANGE_KINDS = ("prefix", "ndc")

_CLAIM = """
-- KEYS: texted, pauses (np), windows (nw), trip sets (nt), trip pause keys (nt)
-- ARGV: retext_ttl, np, nw, nt, now, member, pause reasons (np), windows (nw x limit, ttl, reason),
--       trips (nt x threshold, window, pause_ttl, pause record)
local retext_ttl = tonumber(ARGV[1])
local np, nw, nt = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now, member = tonumber(ARGV[5]), ARGV[6]
local k, a = 2, 7
for i = 1, np do
  if redis.call('EXISTS', KEYS[k]) == 1 then return {ARGV[a]} end
  k, a = k + 1, a + 1
end
if retext_ttl > 0 and redis.call('EXISTS', KEYS[1]) == 1 then return {'texted_recently'} end
local wk, wa = k, a
for i = 1, nw do
  if tonumber(redis.call('GET', KEYS[k]) or '0') >= tonumber(ARGV[a]) then return {ARGV[a + 2]} end
  k, a = k + 1, a + 3
end
if retext_ttl > 0 then redis.call('SET', KEYS[1], '1', 'EX', retext_ttl) end
for i = 0, nw - 1 do
  if redis.call('INCR', KEYS[wk + i]) == 1 then
    redis.call('EXPIRE', KEYS[wk + i], tonumber(ARGV[wa + 3 * i + 1]))
  end
end
local result = {'ok'}
for i = 0, nt - 1 do
  local recent, pause = KEYS[k + i], KEYS[k + nt + i]
  local window = tonumber(ARGV[a + 1])
  redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - window)
  redis.call('ZADD', recent, now, member)
  redis.call('EXPIRE', recent, window)
  if redis.call('ZCARD', recent) >= tonumber(ARGV[a]) then
    if redis.call('SET', pause, ARGV[a + 3], 'NX', 'EX', tonumber(ARGV[a + 2])) then
      table.insert(result, tostring(i))
    end
  end
  a = a + 4
end
return result
"""

_RELEASE = """
-- KEYS: texted, windows (ARGV[1] of them), trip sets; ARGV[2]: the claim's member in the trip sets
local nw = tonumber(ARGV[1])
redis.call('DEL', KEYS[1])
for i = 2, nw + 1 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
for i = nw + 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[2]) end
return 'ok'
"""


@dataclass(frozen=True)
class Limits:
    """The caps (0: that window is off), from settings."""

    retext_seconds: int
    per_prefix_hour: int
    per_minute: int
    per_day: int
    sender_mps: int
    per_ndc_hour: int = 0
    per_ndc_day: int = 0
    per_country_hour: int = 0
    per_country_day: int = 0
    per_caller_day: int = 0
    per_keyed_number_day: int = 0
    trip_window: int = 600
    trip_per_prefix: int = 0
    trip_per_ndc: int = 0
    trip_pause: int = 86400


@dataclass(frozen=True)
class NumberRanges:
    """The ranges a number is counted in: its country, national destination code and prefix."""

    country: str  # region code: RU and KZ share +7 but not their limits
    ndc: str  # +7916: E.164 country code + national destination code
    prefix: str  # +7916123: E.164 without the last 4 digits, 10,000 numbers

    def of_kind(self, kind: str) -> str:
        return self.prefix if kind == "prefix" else self.ndc


def ranges_of(number: str) -> NumberRanges:
    """Where phonenumbers knows no destination code (a few small plans: Bolivian mobiles, Gibraltar,
    Kiribati...), the national number without its last 6 digits stands in for it (1 to 3 digits):
    ranges of about a million numbers, never finer than the prefix."""
    parsed = phonenumbers.parse(number, None)
    national = phonenumbers.national_significant_number(parsed)
    length = phonenumbers.length_of_national_destination_code(parsed)
    if length <= 0:
        length = max(1, min(3, len(national) - 6))
    length = max(1, min(length, len(national) - 4))
    head = f"+{parsed.country_code}"
    return NumberRanges(
        country=phonenumbers.region_code_for_number(parsed) or head,
        ndc=head + national[:length],
        prefix=number[:-4],
    )


@dataclass(frozen=True)
class RangePause:
    """Offers to one range are paused: it was texted abnormally fast (kept in Redis with a TTL)."""

    kind: str  # prefix | ndc
    range: str
    count: int  # SMS within the window that tripped it
    window_seconds: int
    since: float
    until: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, raw: str | bytes) -> RangePause:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class Claim:
    """The answer to one claim: the refusal reason (None: granted) and the ranges it tripped."""

    refusal: str | None
    number: str
    now: float
    caller: str | None = None
    keyed: bool = False
    member: str = ""
    tripped: tuple[RangePause, ...] = ()

    @property
    def granted(self) -> bool:
        return self.refusal is None


_DAY = 90000  # a UTC day's counter outlives the day by an hour


@dataclass(frozen=True)
class _Window:
    key: str
    limit: int
    ttl: int
    reason: str


class SmsGuard:
    def __init__(self, connection: redis.Redis, limits: Limits) -> None:
        self.redis = connection
        self.limits = limits
        self._claim = connection.register_script(_CLAIM)
        self._release = connection.register_script(_RELEASE)

    def _windows(self, number: str, now: float, caller: str | None, keyed: bool) -> list[_Window]:
        lim, ranges = self.limits, ranges_of(number)
        hour, minute, day = int(now // 3600), int(now // 60), time.strftime("%Y%m%d", time.gmtime(now))
        table = (  # (key, limit, ttl, reason), checked in this order
            (f"keyed:{number}:{day}", lim.per_keyed_number_day if keyed else 0, _DAY, "keyed_number_limit"),
            (f"caller:{caller}:{day}", lim.per_caller_day if caller else 0, _DAY, "caller_daily_limit"),
            (f"prefix:{ranges.prefix}:{hour}", lim.per_prefix_hour, 3600, "prefix_rate_limit"),
            (f"ndc:{ranges.ndc}:{hour}", lim.per_ndc_hour, 3600, "ndc_rate_limit"),
            (f"country:{ranges.country}:{hour}", lim.per_country_hour, 3600, "country_rate_limit"),
            (f"minute:{minute}", lim.per_minute, 120, "global_rate_limit"),
            (f"ndc-day:{ranges.ndc}:{day}", lim.per_ndc_day, _DAY, "ndc_daily_limit"),
            (f"country-day:{ranges.country}:{day}", lim.per_country_day, _DAY, "country_daily_limit"),
            (f"day:{day}", lim.per_day, _DAY, "daily_budget_spent"),
        )
        return [_Window(f"deflect:sms:{key}", limit, ttl, why) for key, limit, ttl, why in table if limit > 0]

    def _trips(self, number: str) -> list[tuple[str, str, int]]:
        """(kind, range, threshold) of each trip in force."""
        ranges = ranges_of(number)
        thresholds = {"prefix": self.limits.trip_per_prefix, "ndc": self.limits.trip_per_ndc}
        return [(kind, ranges.of_kind(kind), thresholds[kind]) for kind in RANGE_KINDS if thresholds[kind]]

    def claim(self, number: str, now: float, *, caller: str | None = None, keyed: bool = False) -> Claim:
        """Take one SMS slot for this number (texted on behalf of `caller`, keyed in or not)."""
        windows = self._windows(number, now, caller, keyed)
        trips = self._trips(number)
        ranges = ranges_of(number)
        member = uuid.uuid4().hex
        pauses = [
            (PAUSE_KEY, "messaging_paused"),
            *((range_pause_key(kind, ranges.of_kind(kind)), "range_paused") for kind in RANGE_KINDS),
        ]
        records = [
            RangePause(kind, rng, threshold, self.limits.trip_window, now, now + self.limits.trip_pause)
            for kind, rng, threshold in trips
        ]
        result = self._claim(
            keys=[
                f"deflect:texted:{number}",
                *(key for key, _ in pauses),
                *(w.key for w in windows),
                *(f"deflect:sms:recent:{kind}:{rng}" for kind, rng, _ in trips),
                *(range_pause_key(kind, rng) for kind, rng, _ in trips),
            ],
            args=[
                self.limits.retext_seconds,
                len(pauses),
                len(windows),
                len(trips),
                repr(now),
                member,
                *(reason for _, reason in pauses),
                *(value for w in windows for value in (w.limit, w.ttl, w.reason)),
                *(
                    value
                    for record in records
                    for value in (
                        record.count,
                        record.window_seconds,
                        self.limits.trip_pause,
                        record.to_json(),
                    )
                ),
            ],
        )
        answer = [part.decode() if isinstance(part, bytes) else str(part) for part in result]
        refusal = None if answer[0] == "ok" else answer[0]
        tripped = tuple(records[int(index)] for index in answer[1:])
        return Claim(refusal, number, now, caller, keyed, member, tripped)

    def release(self, claim: Claim) -> None:
        """Give a granted slot back (the offer could not be recorded)."""
        if not claim.granted:
            return
        windows = self._windows(claim.number, claim.now, claim.caller, claim.keyed)
        trips = self._trips(claim.number)
        self._release(
            keys=[
                f"deflect:texted:{claim.number}",
                *(w.key for w in windows),
                *(f"deflect:sms:recent:{kind}:{rng}" for kind, rng, _ in trips),
            ],
            args=[len(windows), claim.member],
        )

    def caller_spent(self, caller: str, now: float) -> bool:
        """Whether this caller has triggered as many SMS today as they may (asked before an offer)."""
        if not self.limits.per_caller_day:
            return False
        used = self.redis.get(f"deflect:sms:caller:{caller}:{time.strftime('%Y%m%d', time.gmtime(now))}")
        return int(used or 0) >= self.limits.per_caller_day

    def budget_left(self, now: float) -> int:
        used = self.redis.get(f"deflect:sms:day:{time.strftime('%Y%m%d', time.gmtime(now))}")
        return self.limits.per_day - int(used or 0)

    def sender_slot(self, sender: str, now: float) -> float:
        """Per-sender throughput: 0 when this message may go now, else seconds to wait."""
        granted, wait = self.sender_slots(sender, now, 1)
        return 0.0 if granted else wait

    def sender_slots(self, sender: str, now: float, wanted: int) -> tuple[int, float]:
        """Up to `wanted` messages of this sender in the current second: (how many may go now, and
        when none may, the seconds to wait). One round trip for a whole batch of messages."""
        second = int(now)
        key = f"deflect:mps:{sender}:{second}"
        pipe = self.redis.pipeline()
        pipe.incrby(key, wanted)
        pipe.expire(key, 5)
        count = pipe.execute()[0]
        granted = max(0, min(wanted, self.limits.sender_mps - (count - wanted)))
        return granted, 0.0 if granted else (second + 1) - now + 0.01


class SenderThrottle:
    """The throttle of one batch of messages from one sender: slots are asked of Redis for all the
    messages still to go, and used up here within the second they were granted for."""

    def __init__(self, guard: SmsGuard, sender: str, now: Callable[[], float]) -> None:
        self.guard = guard
        self.sender = sender
        self.now = now
        self._second = -1
        self._left = 0

    def __call__(self, to_go: int) -> float:
        """Seconds to wait before the next message (0: it may go now); `to_go` counts it too."""
        now = self.now()
        if self._left and int(now) == self._second:
            self._left -= 1
            return 0.0
        granted, wait = self.guard.sender_slots(self.sender, now, max(1, to_go))
        self._second, self._left = int(now), max(0, granted - 1)
        return 0.0 if granted else wait


def range_pause_key(kind: str, range_: str) -> str:
    return RANGE_PAUSE_KEY.format(kind=kind, range=range_)

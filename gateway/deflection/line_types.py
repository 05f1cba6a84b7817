"""Whether a number is really a mobile where its numbering plan cannot tell: phonenumbers answers
"fixed line or mobile" for almost every US and Canadian number, and a text to a landline costs money
and fails (Twilio error 30006). Twilio Lookup's answer is kept per number in Redis (it can be asked
again), a failed lookup for a short while; either way a number without a known line type gets no offer.

The wait loop never waits on the network: the caller's own number is looked up in a job when they
enter a queue with an offer (`in_background`), and the offer waits for the cached answer. A number
the caller keyed in is looked up at once (`at_once`), within DEFLECT_LINE_TYPE_TIMEOUT: they have
just pressed # and wait for the read-back anyway, and the keyed-in path is rare.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

from gateway.logs import mask_number
from gateway.messaging.line_types import LineTypeSource, LookupFailed
from gateway.phone import PhoneNumber

log = logging.getLogger(__name__)

MODES = ("off", "ambiguous", "always")
AMBIGUOUS = frozenset({"fixed_line_or_mobile"})
PENDING = "lookup_pending"  # asked for, no answer yet
FAILED = "lookup_failed"
FAILURE_SECONDS = 600  # a failed lookup is not asked again (and billed) on every pass of the wait loop
_KEY = "deflect:line-type:{number}"


class LineTypes:
    def __init__(
        self,
        connection: redis.Redis,
        source: LineTypeSource | None,
        mode: str,
        cache_seconds: int,
        request: Callable[[str], None],
    ) -> None:
        self.redis = connection
        self.source = source
        self.mode = mode if source is not None else "off"
        self.cache_seconds = cache_seconds
        self.request = request  # enqueue a background lookup of this number

    def needed(self, number: PhoneNumber) -> bool:
        """Whether this number's type must come from a lookup before it is texted."""
        return self.mode == "always" or (self.mode == "ambiguous" and number.number_type in AMBIGUOUS)

    def known(self, number: str) -> str | None:
        value = self.redis.get(_KEY.format(number=number))
        return value.decode() if isinstance(value, bytes) else value

    def in_background(self, number: str) -> str:
        """The kept answer, or PENDING after asking for a lookup in a job."""
        known = self.known(number)
        if known is None:
            self.request(number)
            return PENDING
        return known

    def at_once(self, number: str) -> str:
        """The kept answer, or a lookup now."""
        return self.known(number) or self.look_up(number)

    def look_up(self, number: str) -> str:
        """Ask Twilio and keep the answer (the line type, or FAILED)."""
        assert self.source is not None, "no lookups without a Twilio account"
        try:
            answer = self.source.line_type(number)
        except LookupFailed as exc:
            log.warning("line type lookup of %s failed: %s; no offer to it", mask_number(number), exc)
            answer, ttl = FAILED, FAILURE_SECONDS
        except Exception as exc:  # whatever it says may hold the number: say only what it is
            log.warning("line type lookup of %s failed (%s)", mask_number(number), exc.__class__.__name__)
            answer, ttl = FAILED, FAILURE_SECONDS
        else:
            ttl = self.cache_seconds
        self.redis.set(_KEY.format(number=number), answer, ex=ttl)
        return answer

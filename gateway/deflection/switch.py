"""The manual switch for offers: "stop offering SMS links" (the chat team is overloaded, a campaign went
wrong), recorded with who, when and why.

The database is the source of truth: every flip is a row (the newest is in force) and an audit entry, so
a Redis restart loses nothing. Redis mirrors it for the hot path (`PAUSE_KEY`, read by the SMS claim
script too) and the mirror is re-asserted from the database whenever it is older than
`MIRROR_SECONDS`, or gone: a restarted Redis, a restored database backup or a hand-deleted key all
settle within that time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import redis

from gateway.clock import Clock
from gateway.deflection.limits import PAUSE_KEY
from gateway.store.content import Change
from gateway.store.models import MessagingSwitch

log = logging.getLogger(__name__)

MIRROR_SECONDS = 60
CHECKED_KEY = "deflect:messaging:switch-checked"  # present: the mirror was copied from the database


class SwitchRecords(Protocol):
    """Where the switch is recorded (`gateway.store.content.ContentStore`)."""

    def switch(self) -> MessagingSwitch | None: ...

    def set_switch(self, paused: bool, *, reason: str, now: datetime, change: Change) -> None: ...

    def record(self, change: Change, now: datetime) -> None: ...


@dataclass(frozen=True)
class SwitchState:
    paused: bool
    actor: str | None  # None: nobody ever touched the switch
    at: datetime | None
    reason: str

    @classmethod
    def of(cls, row: MessagingSwitch | None) -> SwitchState:
        if row is None:
            return cls(False, None, None, "")
        return cls(row.paused, row.actor, row.at, row.reason)


class OffersSwitch:
    def __init__(self, records: SwitchRecords, connection: redis.Redis, clock: Clock) -> None:
        self.records = records
        self.redis = connection
        self.clock = clock

    def set(self, paused: bool, *, actor: str, reason: str) -> SwitchState:
        """Pause (or resume) offers in every process at once; recorded, then mirrored."""
        before = self.state()
        action = "messaging.paused" if paused else "messaging.resumed"
        change = Change(
            actor,
            action,
            "messaging",
            "paused" if before.paused else "on",
            "paused" if paused else "on",
            {"reason": reason},
        )
        self.records.set_switch(paused, reason=reason, now=self.clock.now(), change=change)
        self._mirror(paused)
        log.warning("offers %s by %s", "paused" if paused else "resumed", actor)
        return self.state()

    def range_lifted(self, range_: str, *, actor: str, reason: str) -> None:
        """A range pause (an SMS pumping trip) lifted by hand: into the audit log."""
        change = Change(
            actor, "messaging.range_resumed", f"messaging:{range_}", "paused", "on", {"reason": reason}
        )
        self.records.record(change, self.clock.now())

    def state(self) -> SwitchState:
        """Who set the switch, when and why, from the database."""
        return SwitchState.of(self.records.switch())

    def paused(self) -> bool:
        """The hot path: the Redis mirror, copied again from the database when it is due."""
        pipe = self.redis.pipeline()
        pipe.exists(CHECKED_KEY)
        pipe.exists(PAUSE_KEY)
        checked, paused = pipe.execute()
        if checked:
            return bool(paused)
        state = self.state()
        if bool(paused) != state.paused:
            log.warning("the offers switch mirror was %s; the database says %s", bool(paused), state.paused)
        self._mirror(state.paused)
        return state.paused

    def _mirror(self, paused: bool) -> None:
        pipe = self.redis.pipeline()
        if paused:
            pipe.set(PAUSE_KEY, "1")
        else:
            pipe.delete(PAUSE_KEY)
        pipe.set(CHECKED_KEY, "1", ex=MIRROR_SECONDS)
        pipe.execute()

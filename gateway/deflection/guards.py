"""Gathers the facts eligibility rules need, from the database and Redis, only when an offer is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import func, select

from gateway.deflection.chats import WAITING_FOR_AGENT
from gateway.deflection.consent import is_opted_out
from gateway.deflection.eligibility import MessagingFacts
from gateway.deflection.limits import (
    RANGE_KINDS,
    RANGE_PAUSE_KEY,
    RangePause,
    SmsGuard,
    range_pause_key,
    ranges_of,
)
from gateway.deflection.line_types import LineTypes
from gateway.deflection.switch import OffersSwitch
from gateway.store.db import Database
from gateway.store.models import Chat, SmsOutbox

_NOT_SENT = ("refused",)
# One accepting key press per offer (its natural key): a retried Gather POST is the same press.
ACCEPT_KEY = "deflect:accept"


class Guards:
    def __init__(
        self,
        database: Database,
        connection: redis.Redis,
        sms_guard: SmsGuard,
        retext_hours: int,
        max_chat_backlog: int,
        line_types: LineTypes,
        switch: OffersSwitch,
    ) -> None:
        self.database = database
        self.redis = connection
        self.sms_guard = sms_guard
        self.retext = timedelta(hours=retext_hours)
        self.max_chat_backlog = max_chat_backlog
        self.line_types = line_types
        self.switch = switch  # the manual pause of offers, recorded

    def messaging(self, now: float, chat_open: bool) -> MessagingFacts:
        backlog = 0
        if self.max_chat_backlog:
            since = datetime.fromtimestamp(now, UTC) - timedelta(hours=24)
            with self.database.session() as session:
                backlog = (
                    session.scalar(
                        select(func.count(Chat.id)).where(
                            Chat.state.in_(WAITING_FOR_AGENT), Chat.created_at > since
                        )
                    )
                    or 0
                )
        return MessagingFacts(
            paused=self.switch.paused(),
            chat_open=chat_open,
            chat_backlog=backlog,
            budget_left=self.sms_guard.budget_left(now),
        )

    def opted_out(self, number: str) -> bool:
        with self.database.session() as session:
            return is_opted_out(session, number)

    def texted_recently(self, number: str, now: float) -> bool:
        """From the database (durable), not only from the Redis claim keys (which may be lost)."""
        if not self.retext:
            return False
        since = datetime.fromtimestamp(now, UTC) - self.retext
        with self.database.session() as session:
            return (
                session.scalar(
                    select(SmsOutbox.id)
                    .where(
                        SmsOutbox.to == number,
                        SmsOutbox.created_at > since,
                        SmsOutbox.status.not_in(_NOT_SENT),
                    )
                    .limit(1)
                )
                is not None
            )

    def range_pause(self, number: str) -> RangePause | None:
        """The pause of this number's prefix or destination code, if one is in force."""
        ranges = ranges_of(number)
        values = self.redis.mget([range_pause_key(kind, ranges.of_kind(kind)) for kind in RANGE_KINDS])
        return next((RangePause.from_json(value) for value in values if value), None)

    def range_pauses(self) -> list[RangePause]:
        """Every range pause in force, oldest first."""
        pattern = RANGE_PAUSE_KEY.format(kind="*", range="*")
        values = [self.redis.get(key) for key in self.redis.scan_iter(match=pattern, count=500)]
        return sorted((RangePause.from_json(v) for v in values if v), key=lambda p: p.since)

    def lift(self, range_: str, *, actor: str, reason: str = "") -> int:
        """Offers to this range (a prefix or a destination code, as status shows it) resume; the
        audit log says who lifted it."""
        lifted = int(self.redis.delete(*(range_pause_key(kind, range_) for kind in RANGE_KINDS)))
        if lifted:
            self.switch.range_lifted(range_, actor=actor, reason=reason)
        return lifted

    def first_press(self, offer_key: str) -> bool:
        """True for the first accepting key press of an offer; a second POST of the same press (Twilio
        retried the Gather) finds the first one sending it. Kept an hour: the call is long over."""
        return bool(self.redis.set(f"{ACCEPT_KEY}:{offer_key}", "1", nx=True, ex=3600))

    def forget_press(self, offer_key: str) -> None:
        """The press could not be recorded: a retried POST may try again."""
        self.redis.delete(f"{ACCEPT_KEY}:{offer_key}")

"""Hand-offs that kept failing (dead letters), as people see and replay them: `deflect handoff
dead-letters` and the console's operations page. A replay makes the row pending again and queues its
job; it is written to the audit log with who asked for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway.clock import Clock
from gateway.handoff.dispatch import dead_letters, revive
from gateway.logs import redact
from gateway.store.content import AuditWriter, Change
from gateway.store.db import Database

ERROR_LENGTH = 100


class NotADeadLetter(LookupError):
    """A replay named a hand-off that is not (or no longer) a dead letter."""

    def __init__(self, handoff_id: int) -> None:
        super().__init__(f"hand-off {handoff_id} is not a dead letter")
        self.handoff_id = handoff_id


@dataclass(frozen=True)
class DeadLetter:
    id: int
    adapter: str
    attempts: int
    updated_at: datetime
    last_error: str  # the first line only, enough to tell failures apart: the platform's answer may
    # quote the chat back, so numbers and bearer tokens in it are masked too


class DeadLetters:
    def __init__(
        self,
        database: Database,
        audit: AuditWriter,
        clock: Clock,
        enqueue: Callable[[int, int], None],
    ) -> None:
        """`enqueue(handoff_id, replay)`: queue the hand-off's delivery job again (`replay` makes its job
        id new, so an old finished job does not make the enqueue a no-op)."""
        self.database = database
        self.audit = audit
        self.clock = clock
        self.enqueue = enqueue

    def all(self) -> list[DeadLetter]:
        return listed(self.database)

    def replay(self, handoff_ids: Iterable[int] | None, *, actor: str) -> list[int]:
        """Queue these dead letters again (None: all of them); returns the ids queued. Raises
        NotADeadLetter, before anything is queued, when one of them is not a dead letter."""
        dead = {row.id for row in dead_letters(self.database)}
        wanted = sorted(dead if handoff_ids is None else set(handoff_ids))
        for handoff_id in wanted:
            if handoff_id not in dead:
                raise NotADeadLetter(handoff_id)
        now = self.clock.now()
        queued = []
        for handoff_id in wanted:
            if revive(self.database, handoff_id, now):  # not if another replay just took it
                self.enqueue(handoff_id, int(now.timestamp()))
                self.audit.record(
                    Change(actor, "handoff.replayed", f"handoff:{handoff_id}", "dead", "pending"), now
                )
                queued.append(handoff_id)
        return queued


def listed(database: Database) -> list[DeadLetter]:
    """The dead letters, oldest first (the database alone: no Redis needed to read them)."""
    return [
        DeadLetter(row.id, row.adapter, row.attempts, row.updated_at, first_line(row.last_error))
        for row in dead_letters(database)
    ]


def first_line(error: str | None) -> str:
    return redact(error.splitlines()[0])[:ERROR_LENGTH] if error and error.strip() else ""

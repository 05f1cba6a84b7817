"""The consent ledger as people read it (the console, `deflect consent`): one number's records and
opt-out, the whole ledger's check, the list of opt-outs, and an opt-out an admin records for a caller
who asked by other means (method "admin").

Reading a number's records is personal data leaving the ledger, so a look-up and an export are written
to the audit log, as is an admin's opt-out; the audit log names the number by its mask only (it is a
list everyone who operates the gateway reads and exports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from gateway.clock import Clock
from gateway.deflection.consent import export as export_records
from gateway.deflection.consent import records_for, verify_chain
from gateway.deflection.opt_out import opt_out as write_opt_out
from gateway.logs import mask_number
from gateway.store.content import AuditWriter, Change
from gateway.store.db import Database
from gateway.store.models import ConsentRecord, OptOut

ADMIN_METHOD = "admin"  # ConsentRecord.method of an opt-out recorded from the console
ADMIN_CHANNEL = "sms"  # what it stops: the SMS the gateway sends (an opt-out blocks every send anyway)
NOTE_LENGTH = 500
_VERIFY_CHUNK = 1000


@dataclass(frozen=True)
class OptOutEntry:
    number: str  # E.164: shown only where someone looked this number up
    at: datetime
    channel: str
    method: str | None  # how it was recorded: inbound-keyword, admin (None: no ledger record)

    @property
    def masked(self) -> str:
        return mask_number(self.number)


@dataclass(frozen=True)
class NumberRecords:
    """Everything the ledger holds about one number, oldest first."""

    number: str
    records: list[dict[str, Any]]  # as `consent export` prints them
    opted_out: OptOutEntry | None


@dataclass(frozen=True)
class LedgerCheck:
    records: int
    problems: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems


class OptOutRefused(ValueError):
    """An opt-out the ledger does not take (no note, or too long a one)."""


class ConsentLedger:
    def __init__(self, database: Database, audit: AuditWriter, clock: Clock) -> None:
        self.database = database
        self.audit = audit
        self.clock = clock

    def look_up(self, number: str, *, actor: str) -> NumberRecords:
        """A number's records and opt-out (audited: who looked at whose consent)."""
        with self.database.session() as session:
            rows = records_for(session, number)
            found = NumberRecords(number, export_records(rows), _opt_out_of(session, number))
        self._audit(actor, "consent.looked_up", number, {"records": len(found.records)})
        return found

    def export(self, number: str, *, actor: str) -> list[dict[str, Any]]:
        """A number's records as `deflect consent export` prints them, one dict a line (audited)."""
        with self.database.session() as session:
            records = export_records(records_for(session, number))
        self._audit(actor, "consent.exported", number, {"records": len(records)})
        return records

    def verify(self) -> LedgerCheck:
        """Recompute the whole hash chain, in order (read in chunks: the ledger only grows)."""
        count, problems = 0, []
        with self.database.session() as session:
            rows = session.scalars(
                select(ConsentRecord).order_by(ConsentRecord.id).execution_options(yield_per=_VERIFY_CHUNK)
            )
            counted = _counting(rows)
            problems = verify_chain(counted)
            count = counted.count
        return LedgerCheck(count, problems)

    def opt_outs(self, *, limit: int = 50, offset: int = 0) -> tuple[list[OptOutEntry], int]:
        """The numbers that opted out, newest first (a page of them), and how many there are."""
        with self.database.session() as session:
            total = session.scalar(select(func.count()).select_from(OptOut)) or 0
            rows = session.execute(
                select(OptOut, ConsentRecord.method)
                .outerjoin(ConsentRecord, ConsentRecord.id == OptOut.consent_id)
                .order_by(OptOut.at.desc(), OptOut.number)
                .limit(limit)
                .offset(offset)
            ).all()
            return [OptOutEntry(row.number, row.at, row.channel, method) for row, method in rows], total

    def opt_out(self, number: str, *, note: str, actor: str) -> bool:
        """Record that `number` asked the contact centre (not by STOP in a chat) to get no more
        messages: method "admin", `note` (how and when they asked) kept in the ledger with it. False
        when the number had already opted out: nothing is written."""
        note = note.strip()
        if not note or len(note) > NOTE_LENGTH:
            raise OptOutRefused(f"a note of 1 to {NOTE_LENGTH} characters is needed")
        if not write_opt_out(
            self.database, number, ADMIN_CHANNEL, self.clock.now(), note, method=ADMIN_METHOD
        ):
            return False
        self._audit(actor, "consent.opted_out", number, {"method": ADMIN_METHOD})
        return True

    def _audit(self, actor: str, action: str, number: str, detail: dict[str, Any]) -> None:
        self.audit.record(
            Change(actor, action, f"number:{mask_number(number)}", detail=detail), self.clock.now()
        )


def _opt_out_of(session: Any, number: str) -> OptOutEntry | None:
    row = session.get(OptOut, number)
    if row is None:
        return None
    record = session.get(ConsentRecord, row.consent_id) if row.consent_id is not None else None
    return OptOutEntry(row.number, row.at, row.channel, record.method if record is not None else None)


class _counting:
    """Passes rows through, counting them (the check walks the ledger once)."""

    def __init__(self, rows: Any) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Any:
        for row in self.rows:
            self.count += 1
            yield row

"""The consent ledger: append-only, hash-chained. Who agreed to what words, when, how and on which call;
and who said STOP.

Each record's hash covers its content and the previous record's hash; `prev_hash` is unique, so two
writers cannot both extend the chain from the same record (the second retries on the new head).
`verify_chain` recomputes every hash: an edited, inserted or deleted row shows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import ConsentRecord, OptOut

GENESIS = "0" * 64
_HASHED = (
    "offer_key",
    "kind",
    "number",
    "call_sid",
    "flow_id",
    "flow_version",
    "prompt_version",
    "prompt_sha256",
    "prompt_text",
    "channel",
    "method",
    "key_pressed",
    "at",
    "prev_hash",
)


@dataclass(frozen=True)
class ConsentGiven:
    offer_key: str
    number: str
    call_sid: str
    flow_id: str
    flow_version: int
    prompt_version: str
    prompt_text: str
    channel: str
    key_pressed: str


def record_hash(values: dict[str, Any]) -> str:
    canonical = {
        k: (v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v)
        for k, v in values.items()
        if k in _HASHED
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _append(session: Session, values: dict[str, Any]) -> ConsentRecord:
    head = session.scalar(select(ConsentRecord.record_hash).order_by(ConsentRecord.id.desc()).limit(1))
    values = {
        **values,
        "at": values["at"].astimezone(UTC).replace(microsecond=0),
        "prev_hash": head or GENESIS,
    }
    row = ConsentRecord(**values, record_hash=record_hash(values))
    session.add(row)
    session.flush()  # a concurrent writer on the same head fails here (unique prev_hash)
    return row


def record_consent(session: Session, consent: ConsentGiven, at: datetime) -> ConsentRecord:
    """Append a granted consent, in the caller's transaction (with the session and outbox row)."""
    from gateway.deflection.prompts import consent_hash

    return _append(
        session,
        {
            "offer_key": consent.offer_key,
            "kind": "granted",
            "number": consent.number,
            "call_sid": consent.call_sid,
            "flow_id": consent.flow_id,
            "flow_version": consent.flow_version,
            "prompt_version": consent.prompt_version,
            "prompt_sha256": consent_hash(consent.prompt_text),
            "prompt_text": consent.prompt_text,
            "channel": consent.channel,
            "method": "dtmf",
            "key_pressed": consent.key_pressed,
            "at": at,
        },
    )


def record_opt_out(
    session: Session, number: str, channel: str, method: str, at: datetime, text: str | None = None
) -> ConsentRecord:
    """STOP: the ledger says so, and the number is blocked from every future send."""
    row = _append(
        session,
        {
            "offer_key": None,
            "kind": "opt_out",
            "number": number,
            "call_sid": None,
            "flow_id": None,
            "flow_version": None,
            "prompt_version": None,
            "prompt_sha256": None,
            "prompt_text": text,
            "channel": channel,
            "method": method,
            "key_pressed": None,
            "at": at,
        },
    )
    existing = session.get(OptOut, number)
    if existing is None:
        session.add(OptOut(number=number, at=at, channel=channel, consent_id=row.id))
    return row


def is_opted_out(session: Session, number: str) -> bool:
    return session.get(OptOut, number) is not None


def records_for(session: Session, number: str) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord).where(ConsentRecord.number == number).order_by(ConsentRecord.id)
        )
    )


def verify_chain(rows: Iterable[ConsentRecord]) -> list[str]:
    """Problems found walking the whole ledger in order ([] when it is intact)."""
    problems, prev = [], GENESIS
    for row in rows:
        values = {k: getattr(row, k) for k in _HASHED}
        if row.prev_hash != prev:
            problems.append(f"record {row.id}: chain broken (a record before it was removed or added)")
        if record_hash(values) != row.record_hash:
            problems.append(f"record {row.id}: content changed after it was written")
        prev = row.record_hash
    return problems


def export(rows: Iterable[ConsentRecord]) -> list[dict[str, Any]]:
    return [
        {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in {
                "id": r.id,
                **{k: getattr(r, k) for k in _HASHED},
                "record_hash": r.record_hash,
            }.items()
        }
        for r in rows
    ]

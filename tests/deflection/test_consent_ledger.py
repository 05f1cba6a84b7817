"""The consent ledger is append-only and hash-chained: tampering shows; export prints a caller's records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.cli import main
from gateway.deflection.consent import GENESIS, ConsentGiven, record_consent, record_opt_out, verify_chain
from gateway.store.models import ConsentRecord


def _given(n: int, number: str = "+79161234567") -> ConsentGiven:
    return ConsentGiven(
        offer_key=f"CA{n}:1",
        number=number,
        call_sid=f"CA{n}",
        flow_id="ru-bank-support",
        flow_version=1,
        prompt_version="ru-consent-v1",
        prompt_text="Нажмите 1, если согласны.",
        channel="sms",
        key_pressed="1",
    )


def _rows(app: Any) -> list[ConsentRecord]:
    with app.extensions["deflect"].database.session() as session:
        rows = list(session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
        session.expunge_all()
        return rows


def test_records_chain_and_verify(app: Any) -> None:
    database = app.extensions["deflect"].database
    now = datetime.now(UTC)
    with database.session() as session:
        record_consent(session, _given(1), now)
        record_consent(session, _given(2, "+77011234567"), now)
        record_opt_out(session, "+79161234567", "whatsapp", "inbound-keyword", now, text="STOP")
    rows = _rows(app)
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.record_hash for r in rows[:-1]]
    assert rows[0].prompt_text == "Нажмите 1, если согласны."
    assert len(rows[0].prompt_sha256) == 64
    assert verify_chain(rows) == []


def test_edited_or_deleted_record_shows(app: Any) -> None:
    database = app.extensions["deflect"].database
    now = datetime.now(UTC)
    with database.session() as session:
        for n in range(3):
            record_consent(session, _given(n), now)
    with database.session() as session:
        session.execute(
            ConsentRecord.__table__.update()
            .where(ConsentRecord.id == _rows(app)[1].id)
            .values(key_pressed="2")
        )
    assert verify_chain(_rows(app)) == [f"record {_rows(app)[1].id}: content changed after it was written"]
    with database.session() as session:
        session.execute(ConsentRecord.__table__.delete().where(ConsentRecord.id == _rows(app)[1].id))
    assert any("chain broken" in p for p in verify_chain(_rows(app)))


def test_two_writers_cannot_fork_the_chain(app: Any) -> None:
    database = app.extensions["deflect"].database
    now = datetime.now(UTC)
    with database.session() as session:
        record_consent(session, _given(1), now)
    head = _rows(app)[-1].record_hash
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            ConsentRecord(
                kind="granted",
                number="+1",
                channel="sms",
                method="dtmf",
                at=now,
                prev_hash=GENESIS,
                record_hash="x" * 64,
            )
        )
    assert _rows(app)[-1].record_hash == head


def test_export_prints_a_callers_records(app: Any, cli_env: None) -> None:
    with app.extensions["deflect"].database.session() as session:
        record_consent(session, _given(1), datetime.now(UTC))
    result = CliRunner().invoke(main, ["consent", "export", "--number", "8 916 123-45-67"])
    assert result.exit_code == 0, result.output
    assert '"number": "+79161234567"' in result.output
    assert '"kind": "granted"' in result.output
    [exported] = [
        e for e in app.extensions["deflect"].content.store.audit() if e.action == "consent.exported"
    ]
    assert exported.actor.startswith("cli:") and exported.subject == "number:+7916*****67"
    verify = CliRunner().invoke(main, ["consent", "verify"])
    assert verify.exit_code == 0 and "intact: 1 records" in verify.output

"""Migrations: the schema they build is the one the models describe, they go down and up again, and the
rows an installation already has come through them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from gateway.cli import main
from gateway.store.db import Database, SchemaRefused, alembic_config
from gateway.store.models import Base

AT = "2026-11-24 09:00:00+00:00"
CALL = "CA" + "1" * 32
UNSEEN_CALL = "CA" + "2" * 32  # its events were recorded, its calls row never was
MESSAGE = "SM" + "b" * 32  # an unmatched chat's WhatsApp message
TELEGRAM = "tg:4711"  # an unmatched Telegram chat


@pytest.fixture
def scratch_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the kind the suite runs on: a SQLite file, or a schema of its own in the
    PostgreSQL database (dropped afterwards)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    schema = f"migrations_{secrets.token_hex(4)}"
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        separator = "&" if "?" in database_url else "?"
        yield f"{database_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    database.dispose()
    assert diff == []


def test_migrations_go_down_and_up_again(scratch_url: str) -> None:
    database = Database(scratch_url)
    database.upgrade()
    applied, expected = database.migration_state()
    assert applied == expected
    command.downgrade(alembic_config(scratch_url), "base")
    assert database.migration_state()[0] == set()
    database.upgrade()
    assert database.migration_state()[0] == expected
    database.dispose()


def test_rows_of_an_installation_keep_their_links_and_a_chat_without_a_call_gets_its_message_id(
    scratch_url: str,
) -> None:
    database = Database(scratch_url)
    command.upgrade(alembic_config(scratch_url), "0003")
    with database.engine.begin() as conn:
        _insert_an_installation(conn)
    before = _counts(database)

    command.upgrade(alembic_config(scratch_url), "0005")  # the revisions this test is about

    assert _counts(database) == before
    assert _events(database) == {
        "started": (CALL, None),
        "chat": (None, MESSAGE),
        "telegram": (None, TELEGRAM),
        "fallback": (UNSEEN_CALL, None),  # no calls row: kept, call_sid has no foreign key
        "odd": ("XX" + "3" * 32, None),  # neither a CallSid nor a stored message: left as it was
    }
    foreign_keys = {
        (table, key["constrained_columns"][0], key["referred_table"], key["options"].get("ondelete"))
        for table in (
            "chat_sessions",
            "opt_outs",
            "sms_outbox",
            "inbound_messages",
            "handoffs",
            "call_events",
        )
        for key in inspect(database.engine).get_foreign_keys(table)
    }
    assert foreign_keys == {
        ("chat_sessions", "consent_id", "consent_records", "RESTRICT"),
        ("opt_outs", "consent_id", "consent_records", "RESTRICT"),
        ("sms_outbox", "session_id", "chat_sessions", "RESTRICT"),
        ("inbound_messages", "session_id", "chat_sessions", "RESTRICT"),
        ("handoffs", "inbound_id", "inbound_messages", "RESTRICT"),
        ("handoffs", "session_id", "chat_sessions", "RESTRICT"),
        ("call_events", "message_id", "inbound_messages", "RESTRICT"),
    }

    command.downgrade(alembic_config(scratch_url), "0003")  # the message id back where it was
    assert _counts(database) == before
    with database.engine.connect() as conn:
        assert conn.scalar(text("SELECT call_sid FROM call_events WHERE kind = 'chat'")) == MESSAGE
    command.upgrade(alembic_config(scratch_url), "0005")
    assert _events(database)["chat"] == (None, MESSAGE)
    database.dispose()


def test_a_row_naming_a_missing_row_stops_the_upgrade_before_anything_changes(
    scratch_url: str, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(scratch_url)
    command.upgrade(alembic_config(scratch_url), "0003")
    with database.engine.begin() as conn:
        _insert_an_installation(conn)
        conn.execute(text("DELETE FROM handoffs"))
        conn.execute(text("DELETE FROM consent_records WHERE id = 1"))  # by hand: two rows named it
        conn.execute(text("DELETE FROM inbound_messages WHERE id = 1"))  # a handoff named it
        _insert_handoff(conn)
    before = _counts(database)

    with pytest.raises(SchemaRefused) as refused:
        database.upgrade()

    assert str(refused.value) == (
        "cannot add the foreign keys of revision 0004, nothing was changed: "
        "chat_sessions.consent_id: 1 row names a missing consent_records row; "
        "handoffs.inbound_id: 1 row names a missing inbound_messages row. "
        "Restore the missing rows or remove the rows that name them, then migrate again."
    )
    assert database.migration_state()[0] == {"0003"}
    assert _counts(database) == before
    assert all(
        not inspect(database.engine).get_foreign_keys(table) for table in ("chat_sessions", "opt_outs")
    )

    monkeypatch.setenv("DATABASE_URL", scratch_url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot add the foreign keys of revision 0004")
    assert "Traceback" not in result.output

    with database.engine.begin() as conn:  # what a person would do: put the missing rows back
        _insert_consent(conn, 1, "granted")
        conn.execute(text("UPDATE handoffs SET inbound_id = 2"))
    database.upgrade()
    assert database.migration_state()[0] == database.migration_state()[1]
    database.dispose()


def _insert_an_installation(conn: Any) -> None:
    """Rows as revision 0003 left them: a call that was deflected and whose chat was handed off, two
    chats that joined no call, an opt-out, and the events of all of them."""
    _insert_consent(conn, 1, "granted")
    _insert_consent(conn, 2, "opt_out")
    conn.execute(
        text(
            "INSERT INTO calls (call_sid, called, flow_id, flow_version, locale, started_at, status)"
            " VALUES (:call, '+74952223344', 'ru-bank-support', 1, 'ru-RU', :at, 'completed')"
        ),
        {"call": CALL, "at": AT},
    )
    conn.execute(
        text(
            "INSERT INTO chat_sessions (id, reference, link_token, call_sid, number, flow_id, flow_version,"
            " locale, context, channels, consent_id, state, created_at, expires_at)"
            " VALUES (1, 'K7XAMN', 'token', :call, '+79161234567', 'ru-bank-support', 1, 'ru-RU', '{}',"
            " '{}', 1, 'handed_off', :at, :at)"
        ),
        {"call": CALL, "at": AT},
    )
    conn.execute(
        text(
            'INSERT INTO sms_outbox (offer_key, session_id, call_sid, "to", body, encoding, segments,'
            " status, attempts, created_at, updated_at)"
            " VALUES (:offer, 1, :call, '+79161234567', 'link', 'UCS-2', 1, 'delivered', 1, :at, :at)"
        ),
        {"offer": f"{CALL}:1", "call": CALL, "at": AT},
    )
    conn.execute(
        text("INSERT INTO opt_outs (number, at, channel, consent_id) VALUES ('+79035550011', :at, 'sms', 2)"),
        {"at": AT},
    )
    for id_, message_id, channel, session_id, match in (
        (1, "SM" + "a" * 32, "whatsapp", 1, "reference"),
        (2, MESSAGE, "whatsapp", None, "unmatched"),
        (3, TELEGRAM, "telegram", None, "unmatched"),
    ):
        conn.execute(
            text(
                "INSERT INTO inbound_messages (id, message_id, channel, sender, body, media, session_id,"
                " match, received_at) VALUES (:id, :message_id, :channel, 'whatsapp:+79161234567', 'hi',"
                " '{}', :session_id, :match, :at)"
            ),
            dict(id=id_, message_id=message_id, channel=channel, session_id=session_id, match=match, at=AT),
        )
    _insert_handoff(conn)
    for kind, call_sid in (
        ("started", CALL),
        ("chat", MESSAGE),
        ("telegram", TELEGRAM),
        ("fallback", UNSEEN_CALL),
        ("odd", "XX" + "3" * 32),
    ):
        conn.execute(
            text(
                "INSERT INTO call_events (event_id, call_sid, kind, at, data)"
                " VALUES (:event_id, :call_sid, :kind, :at, '{}')"
            ),
            {"event_id": kind, "call_sid": call_sid, "kind": kind, "at": AT},
        )


def _insert_consent(conn: Any, id_: int, kind: str) -> None:
    conn.execute(
        text(
            "INSERT INTO consent_records (id, kind, number, channel, method, at, prev_hash, record_hash)"
            " VALUES (:id, :kind, '+79161234567', 'sms', 'dtmf', :at, :prev, :hash)"
        ),
        {"id": id_, "kind": kind, "at": AT, "prev": str(id_) * 64, "hash": str(id_ + 5) * 64},
    )


def _insert_handoff(conn: Any) -> None:
    conn.execute(
        text(
            "INSERT INTO handoffs (inbound_id, session_id, adapter, status, attempts, payload, created_at,"
            " updated_at) VALUES (1, 1, 'webhook', 'delivered', 1, '{}', :at, :at)"
        ),
        {"at": AT},
    )


def _counts(database: Database) -> dict[str, int]:
    tables = inspect(database.engine).get_table_names()
    with database.engine.connect() as conn:
        return {
            table: conn.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in sorted(tables)
            if table != "alembic_version"
        }


def _events(database: Database) -> dict[str, tuple[str | None, str | None]]:
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, call_sid, message_id FROM call_events"))
        return {kind: (call_sid, message_id) for kind, call_sid, message_id in rows}


def test_published_flow_versions_become_content_versions_with_the_newest_live(scratch_url: str) -> None:
    database = Database(scratch_url)
    command.upgrade(alembic_config(scratch_url), "0005")
    at = "2026-11-20 10:00:00+00:00"
    with database.engine.begin() as conn:
        for version, source in ((2, "id: bank\nversion: 1\n"), (3, "id: bank\nversion: 2\n")):
            conn.execute(
                text(
                    "INSERT INTO flow_versions (flow_id, version, source, checksum, published_at,"
                    " published_by) VALUES ('bank', :version, :source, 'x', :at, 'anna')"
                ),
                {"version": version, "source": source, "at": at},
            )

    command.upgrade(alembic_config(scratch_url), "0006")

    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT version, author FROM content_versions WHERE kind = 'flow' AND key = 'bank'")
        ).all()
        live = conn.scalar(text("SELECT version FROM content_live WHERE kind = 'flow' AND key = 'bank'"))
    assert sorted(rows) == [(2, "anna"), (3, "anna")] and live == 3
    command.downgrade(alembic_config(scratch_url), "0005")  # and back: the versions are flow versions again
    with database.engine.connect() as conn:
        sources = conn.execute(text("SELECT version, source FROM flow_versions ORDER BY version")).all()
    assert sources == [(2, "id: bank\nversion: 1\n"), (3, "id: bank\nversion: 2\n")]
    database.dispose()

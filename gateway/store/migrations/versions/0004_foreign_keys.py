"""foreign keys between rows that name each other

Every row that names another row gets a foreign key, ON DELETE RESTRICT. Such rows are written in the
same transaction as the row they name, so one that names a missing row was edited by hand: the upgrade
then refuses before it changes anything, naming what is missing, and a person decides whether to
restore it or to remove what refers to it (consent records and opt-outs are not the migration's to
rewrite). `call_events` follows in 0005; `chat_sessions`, `sms_outbox` and `consent_records` name a
call_sid without a key (see `gateway.store.models`).

On SQLite each table is rebuilt (batch mode) once, parents before their children, so no table is
rebuilt while another one refers to it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.db import SchemaRefused

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, column, parent table, parent column), in the order they are added.
REFERENCES = [
    ("chat_sessions", "consent_id", "consent_records", "id"),
    ("opt_outs", "consent_id", "consent_records", "id"),
    ("sms_outbox", "session_id", "chat_sessions", "id"),
    ("inbound_messages", "session_id", "chat_sessions", "id"),
    ("handoffs", "inbound_id", "inbound_messages", "id"),
    ("handoffs", "session_id", "chat_sessions", "id"),
]


def upgrade() -> None:
    _refuse_dangling_references(op.get_bind())
    for table in _tables():
        with op.batch_alter_table(table) as batch_op:
            for _table, column, parent, parent_column in _references_of(table):
                batch_op.create_foreign_key(
                    op.f(f"fk_{table}_{column}"), parent, [column], [parent_column], ondelete="RESTRICT"
                )


def downgrade() -> None:
    for table in reversed(_tables()):
        with op.batch_alter_table(table) as batch_op:
            for _table, column, _parent, _parent_column in _references_of(table):
                batch_op.drop_constraint(op.f(f"fk_{table}_{column}"), type_="foreignkey")


def _tables() -> list[str]:
    """Each table once (SQLite copies it for each batch), in the order of REFERENCES."""
    return list(dict.fromkeys(table for table, *_ in REFERENCES))


def _references_of(table: str) -> list[tuple[str, str, str, str]]:
    return [reference for reference in REFERENCES if reference[0] == table]


def _refuse_dangling_references(bind: sa.Connection) -> None:
    """Before any change (SQLite runs DDL outside the transaction): every reference must resolve."""
    missing = []
    for table, column, parent, parent_column in REFERENCES:
        count = bind.scalar(
            sa.text(
                f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND NOT EXISTS"
                f" (SELECT 1 FROM {parent} WHERE {parent}.{parent_column} = {table}.{column})"
            )
        )
        if count:
            rows = "1 row names" if count == 1 else f"{count} rows name"
            missing.append(f"{table}.{column}: {rows} a missing {parent} row")
    if missing:
        raise SchemaRefused(
            "cannot add the foreign keys of revision 0004, nothing was changed: "
            + "; ".join(missing)
            + ". Restore the missing rows or remove the rows that name them, then migrate again."
        )

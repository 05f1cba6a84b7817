"""the events of a chat with no call keep its message id in their own column

`call_events.call_sid` held the message id of a chat that joined no call (cut to 34 characters, which
no message id reaches: a MessageSid has 34, `tg:` and `viber:` ids fewer). Such rows move to the new
`call_events.message_id`, which refers to the inbound message (stored before any event of it); a row
holds exactly one of the two. A row moves when its call_sid is not a CallSid ("CA" and 32 hex digits)
and is the id of a stored inbound message. Any other call_sid (made by hand or by a test) stays where
it is, as it was; so does an event whose call has no `calls` row: `call_sid` gets no foreign key (see
`gateway.store.models.CallEvent`). Going down puts the message id back into call_sid, cut as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_HEX = "[0-9a-fA-F]"
NOT_A_CALL_SID = {
    "postgresql": "call_sid !~ '^CA[0-9a-fA-F]{32}$'",
    "sqlite": f"call_sid NOT GLOB 'CA{_HEX * 32}'",
}


def upgrade() -> None:
    with op.batch_alter_table("call_events") as batch_op:
        batch_op.alter_column("call_sid", existing_type=sa.String(length=34), nullable=True)
        batch_op.add_column(sa.Column("message_id", sa.String(length=80), nullable=True))
        batch_op.create_index(
            op.f("ix_call_events_message_id"),
            ["message_id"],
            unique=False,
            sqlite_where=sa.text("message_id IS NOT NULL"),
            postgresql_where=sa.text("message_id IS NOT NULL"),
        )
        batch_op.create_foreign_key(
            op.f("fk_call_events_message_id"),
            "inbound_messages",
            ["message_id"],
            ["message_id"],
            ondelete="RESTRICT",
        )
        batch_op.create_check_constraint(
            op.f("ck_call_events_call_or_message"), "(call_sid IS NULL) <> (message_id IS NULL)"
        )
    op.execute(
        "UPDATE call_events SET message_id = call_sid, call_sid = NULL"
        f" WHERE {NOT_A_CALL_SID[op.get_bind().dialect.name]}"
        " AND call_sid IN (SELECT message_id FROM inbound_messages)"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE call_events SET call_sid = substr(message_id, 1, 34), message_id = NULL"
        " WHERE call_sid IS NULL"
    )
    with op.batch_alter_table("call_events") as batch_op:
        batch_op.drop_constraint(op.f("ck_call_events_call_or_message"), type_="check")
        batch_op.drop_constraint(op.f("fk_call_events_message_id"), type_="foreignkey")
        batch_op.drop_index(op.f("ix_call_events_message_id"))
        batch_op.drop_column("message_id")
        batch_op.alter_column("call_sid", existing_type=sa.String(length=34), nullable=False)

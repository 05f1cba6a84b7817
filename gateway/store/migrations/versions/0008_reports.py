"""reports: one fact row per call that reached a queue, its sums per hour, the fold's cursor, API tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("created_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("last_used_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_table(
        "call_facts",
        sa.Column("call_sid", sa.String(length=34), nullable=False),
        sa.Column("caller", sa.String(length=20), nullable=True),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("started_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entered_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("offered_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refusal", sa.String(length=40), nullable=False),
        sa.Column("declined", sa.Boolean(), nullable=False),
        sa.Column("accepted_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consented_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("keyed_number", sa.Boolean(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("sms_status", sa.String(length=24), nullable=False),
        sa.Column("sms_accepted_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sms_error", sa.Integer(), nullable=True),
        sa.Column("sms_segments", sa.Integer(), nullable=False),
        sa.Column("clicked_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("matched", sa.String(length=24), nullable=False),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("waited_seconds", sa.Integer(), nullable=False),
        sa.Column("ended_at", gateway.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_call_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("call_sid"),
    )
    with op.batch_alter_table("call_facts", schema=None) as batch_op:
        batch_op.create_index("ix_call_facts_caller_started", ["caller", "started_at"], unique=False)
        batch_op.create_index("ix_call_facts_entered_at", ["entered_at"], unique=False)

    op.create_table(
        "report_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.JSON(), nullable=False),
        sa.Column("updated_at", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "report_hours",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hour", gateway.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("refusal", sa.String(length=40), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("declined", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("consented", sa.Integer(), nullable=False),
        sa.Column("keyed_number", sa.Integer(), nullable=False),
        sa.Column("sms_accepted", sa.Integer(), nullable=False),
        sa.Column("sms_delivered", sa.Integer(), nullable=False),
        sa.Column("sms_failed", sa.Integer(), nullable=False),
        sa.Column("clicked", sa.Integer(), nullable=False),
        sa.Column("chat_started", sa.Integer(), nullable=False),
        sa.Column("handed_off", sa.Integer(), nullable=False),
        sa.Column("deflected", sa.Integer(), nullable=False),
        sa.Column("reached_agent", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("recontact_short", sa.Integer(), nullable=False),
        sa.Column("recontact_long", sa.Integer(), nullable=False),
        sa.Column("deflected_recontact_short", sa.Integer(), nullable=False),
        sa.Column("deflected_recontact_long", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=False),
        sa.Column("deflected_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("sms_segments", sa.Integer(), nullable=False),
        sa.Column("to_sms_00", sa.Integer(), nullable=False),
        sa.Column("to_sms_01", sa.Integer(), nullable=False),
        sa.Column("to_sms_02", sa.Integer(), nullable=False),
        sa.Column("to_sms_03", sa.Integer(), nullable=False),
        sa.Column("to_sms_04", sa.Integer(), nullable=False),
        sa.Column("to_sms_05", sa.Integer(), nullable=False),
        sa.Column("to_sms_06", sa.Integer(), nullable=False),
        sa.Column("to_sms_07", sa.Integer(), nullable=False),
        sa.Column("to_sms_08", sa.Integer(), nullable=False),
        sa.Column("to_sms_09", sa.Integer(), nullable=False),
        sa.Column("to_sms_10", sa.Integer(), nullable=False),
        sa.Column("to_sms_11", sa.Integer(), nullable=False),
        sa.Column("to_sms_12", sa.Integer(), nullable=False),
        sa.Column("to_sms_13", sa.Integer(), nullable=False),
        sa.Column("to_sms_14", sa.Integer(), nullable=False),
        sa.Column("to_sms_15", sa.Integer(), nullable=False),
        sa.Column("to_chat_00", sa.Integer(), nullable=False),
        sa.Column("to_chat_01", sa.Integer(), nullable=False),
        sa.Column("to_chat_02", sa.Integer(), nullable=False),
        sa.Column("to_chat_03", sa.Integer(), nullable=False),
        sa.Column("to_chat_04", sa.Integer(), nullable=False),
        sa.Column("to_chat_05", sa.Integer(), nullable=False),
        sa.Column("to_chat_06", sa.Integer(), nullable=False),
        sa.Column("to_chat_07", sa.Integer(), nullable=False),
        sa.Column("to_chat_08", sa.Integer(), nullable=False),
        sa.Column("to_chat_09", sa.Integer(), nullable=False),
        sa.Column("to_chat_10", sa.Integer(), nullable=False),
        sa.Column("to_chat_11", sa.Integer(), nullable=False),
        sa.Column("to_chat_12", sa.Integer(), nullable=False),
        sa.Column("to_chat_13", sa.Integer(), nullable=False),
        sa.Column("to_chat_14", sa.Integer(), nullable=False),
        sa.Column("to_chat_15", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "hour",
            "queue",
            "flow_id",
            "flow_version",
            "locale",
            "channel",
            "variant",
            "refusal",
            name="uq_report_hours_slice",
        ),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index("ix_calls_caller_started_at", ["caller", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_caller_started_at")

    op.drop_table("report_hours")
    op.drop_table("report_cursor")
    with op.batch_alter_table("call_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_call_facts_entered_at")
        batch_op.drop_index("ix_call_facts_caller_started")

    op.drop_table("call_facts")
    op.drop_table("api_tokens")

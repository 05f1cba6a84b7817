"""the content store: versions, drafts and a live pointer per item; the audit log; the messaging switch

Published flow versions (`flow_versions`) become versions of `flow` items: the same numbers, authors and
times, each flow's newest one live, its text kept under `<flow id>.yaml`. Going down copies the flow
versions back (the newest was live before; a rollback made since is not representable there).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 12:40:00
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_TIME = gateway.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "content_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "key", "version"),
    )
    op.create_table(
        "content_drafts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "key"),
    )
    op.create_table(
        "content_live",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", UTC_TIME, nullable=False),
        sa.Column("changed_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["kind", "key", "version"],
            ["content_versions.kind", "content_versions.key", "content_versions.version"],
            name="fk_content_live_version",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("kind", "key"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("before", sa.String(length=120), nullable=True),
        sa.Column("after", sa.String(length=120), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.create_index("ix_audit_log_subject_at", ["subject", "at"], unique=False)
    op.create_table(
        "messaging_switch",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _move_flow_versions_up(op.get_bind())
    op.drop_table("flow_versions")


def downgrade() -> None:
    op.create_table(
        "flow_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("published_at", UTC_TIME, nullable=False),
        sa.Column("published_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("flow_id", "version"),
    )
    _move_flow_versions_down(op.get_bind())
    op.drop_table("messaging_switch")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_subject_at")
    op.drop_table("audit_log")
    op.drop_table("content_live")
    op.drop_table("content_drafts")
    op.drop_table("content_versions")


def _move_flow_versions_up(connection: sa.Connection) -> None:
    old = sa.table(
        "flow_versions",
        sa.column("id", sa.Integer),
        sa.column("flow_id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("source", sa.Text),
        sa.column("published_at", UTC_TIME),
        sa.column("published_by", sa.String),
    )
    versions = sa.table(
        "content_versions",
        sa.column("kind", sa.String),
        sa.column("key", sa.String),
        sa.column("version", sa.Integer),
        sa.column("files", sa.JSON),
        sa.column("checksum", sa.String),
        sa.column("author", sa.String),
        sa.column("comment", sa.Text),
        sa.column("created_at", UTC_TIME),
    )
    live = sa.table(
        "content_live",
        sa.column("kind", sa.String),
        sa.column("key", sa.String),
        sa.column("version", sa.Integer),
        sa.column("changed_at", UTC_TIME),
        sa.column("changed_by", sa.String),
    )
    newest: dict[str, tuple[int, object, str]] = {}
    rows = connection.execute(sa.select(old).order_by(old.c.id)).all()
    for row in rows:
        files = {f"{row.flow_id}.yaml": row.source}
        connection.execute(
            versions.insert().values(
                kind="flow",
                key=row.flow_id,
                version=row.version,
                files=files,
                checksum=_checksum(files),
                author=row.published_by,
                comment="published before the content store",
                created_at=row.published_at,
            )
        )
        newest[row.flow_id] = (row.version, row.published_at, row.published_by)
    for flow_id, (version, at, by) in newest.items():
        connection.execute(
            live.insert().values(kind="flow", key=flow_id, version=version, changed_at=at, changed_by=by)
        )


def _move_flow_versions_down(connection: sa.Connection) -> None:
    versions = sa.table(
        "content_versions",
        sa.column("kind", sa.String),
        sa.column("key", sa.String),
        sa.column("version", sa.Integer),
        sa.column("files", sa.JSON),
        sa.column("author", sa.String),
        sa.column("created_at", UTC_TIME),
    )
    old = sa.table(
        "flow_versions",
        sa.column("flow_id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("source", sa.Text),
        sa.column("checksum", sa.String),
        sa.column("published_at", UTC_TIME),
        sa.column("published_by", sa.String),
    )
    rows = connection.execute(
        sa.select(versions).where(versions.c.kind == "flow").order_by(versions.c.key, versions.c.version)
    ).all()
    for row in rows:
        source = next(iter(row.files.values()), "")
        connection.execute(
            old.insert().values(
                flow_id=row.key,
                version=row.version,
                source=source,
                checksum=hashlib.sha256(source.encode()).hexdigest(),
                published_at=row.created_at,
                published_by=row.author,
            )
        )


def _checksum(files: dict[str, str]) -> str:
    """The same as `gateway.store.content.checksum` (kept here: a migration does not change with the code)."""
    return hashlib.sha256(json.dumps(files, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

"""Database tables: what a person would miss if it vanished (calls, events, flow versions, messages).

No column defaults to "now": every time is given by the code that writes the row, from the one clock.
A row that names another row has a foreign key, written with its parent in one transaction. Nothing
deletes these rows; a delete that would leave a row pointing at nothing is refused (RESTRICT), so a
future clean-up decides what goes first, instead of a cascade erasing records silently. The call log
is the exception: `calls` is a best-effort report row (see `CallEvent`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as UTC; SQLite forgets the zone, so it is put back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; times come from the clock, in UTC")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}
    # Foreign keys get names a migration can drop them by (SQLite keeps no name it was not given);
    # "ix" is SQLAlchemy's default.
    metadata = MetaData(
        naming_convention={"ix": "ix_%(column_0_label)s", "fk": "fk_%(table_name)s_%(column_0_name)s"}
    )


def refers_to(column: str) -> ForeignKey:
    """A reference to `table.column` whose row cannot be deleted while this one names it."""
    return ForeignKey(column, ondelete="RESTRICT")


class Call(Base):
    """One inbound call, as reporting sees it; the live state is in Redis."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_caller_started_at", "caller", "started_at"),)

    call_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    caller: Mapped[str | None] = mapped_column(String(20))  # E.164, None when withheld
    called: Mapped[str] = mapped_column(String(20))
    flow_id: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[int] = mapped_column(Integer)
    locale: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(24), default="in-progress")
    queue: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))


class CallEvent(Base):
    """Every step of every call, with its time: reports are built from these rows. The events of a chat
    that joined no call belong to its inbound message instead: exactly one of `call_sid`, `message_id`.

    `call_sid` has no foreign key: chat, link, SMS and hand-off events name the chat session's call
    without writing its row, and the `calls` row itself is best effort (it may wait in Redis, see
    `gateway.store.call_log`), so an event must not be refused for the want of it."""

    __tablename__ = "call_events"
    __table_args__ = (
        Index("ix_call_events_call_sid_at", "call_sid", "at"),
        Index("ix_call_events_kind_at", "kind", "at"),
        # Partial: the events of calls (nearly all of them) add nothing to it.
        Index(
            "ix_call_events_message_id",
            "message_id",
            sqlite_where=text("message_id IS NOT NULL"),
            postgresql_where=text("message_id IS NOT NULL"),
        ),
        CheckConstraint("(call_sid IS NULL) <> (message_id IS NULL)", name="ck_call_events_call_or_message"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Made by the writer, so an event replayed from the Redis buffer is stored once.
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    call_sid: Mapped[str | None] = mapped_column(String(34))
    # The inbound message is stored (and committed) before any event of it is recorded.
    message_id: Mapped[str | None] = mapped_column(String(80), refers_to("inbound_messages.message_id"))
    kind: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ContentVersion(Base):
    """One published version of a content item (a flow, a locale's SMS texts, a locale's voice texts):
    its files as they were published, immutable, numbered from 1 per item."""

    __tablename__ = "content_versions"
    __table_args__ = (UniqueConstraint("kind", "key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # flow | sms | voice
    key: Mapped[str] = mapped_column(String(64))  # the flow id, or the locale
    version: Mapped[int] = mapped_column(Integer)
    files: Mapped[dict[str, Any]] = mapped_column()  # {relative path: text}
    checksum: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(120))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class ContentDraft(Base):
    """The draft of a content item: editable, validated on every save (its problems kept with it),
    based on the version that was live when it was started."""

    __tablename__ = "content_drafts"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]] = mapped_column()
    checksum: Mapped[str] = mapped_column(String(64))
    based_on: Mapped[int | None] = mapped_column(Integer)
    problems: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"problems": [formatted, ...]}
    author: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime]


class ContentLive(Base):
    """The live pointer: which version of an item every process serves (new calls; a call keeps the
    version it started on)."""

    __tablename__ = "content_live"
    __table_args__ = (
        ForeignKeyConstraint(
            ["kind", "key", "version"],
            ["content_versions.kind", "content_versions.key", "content_versions.version"],
            ondelete="RESTRICT",
            name="fk_content_live_version",
        ),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(120))


class AuditEntry(Base):
    """Append-only: every change an admin (or CI, or the system) made, with who, when, what, and a
    reference to what it was before and after (a version, a draft checksum, a switch state)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))  # e.g. content.published, messaging.paused
    subject: Mapped[str] = mapped_column(String(120))  # e.g. flow:ru-bank-support, messaging
    before: Mapped[str | None] = mapped_column(String(120))
    after: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MessagingSwitch(Base):
    """The manual switch for offers, as a history: the newest row is in force. Redis mirrors it for
    the hot path; a Redis restart does not lose it."""

    __tablename__ = "messaging_switch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    paused: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")


class DevInboxMessage(Base):
    """A message the dev inbox provider 'sent' (no Twilio account): stored so it can be read."""

    __tablename__ = "local_outbox"  # the dev inbox's name before it was one; a rename would buy nothing

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    to: Mapped[str] = mapped_column(String(40))
    sender: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status_callback: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ConsentRecord(Base):
    """Append-only consent ledger. Each record carries the hash of the one before it (unique, so
    the chain cannot fork) and its own hash over its content: an edited or deleted row shows."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    offer_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # CallSid:offer number
    kind: Mapped[str] = mapped_column(String(16))  # granted | opt_out
    number: Mapped[str] = mapped_column(String(20), index=True)
    call_sid: Mapped[str | None] = mapped_column(String(34))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    flow_version: Mapped[int | None] = mapped_column(Integer)
    prompt_version: Mapped[str | None] = mapped_column(String(40))
    prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    prompt_text: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(24))  # sms, whatsapp...: what was agreed to / stopped
    method: Mapped[str] = mapped_column(String(24))  # dtmf, inbound-keyword, admin
    key_pressed: Mapped[str | None] = mapped_column(String(8))
    at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)


class OptOut(Base):
    """Numbers that said STOP: never texted again (until they opt back in)."""

    __tablename__ = "opt_outs"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(24))
    consent_id: Mapped[int | None] = mapped_column(Integer, refers_to("consent_records.id"))


class Chat(Base):
    """The call's context, waiting for the chat to start: found by its reference or link token."""

    __tablename__ = "chat_sessions"
    __table_args__ = (Index("ix_chat_sessions_number_state", "number", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    link_token: Mapped[str] = mapped_column(String(40), unique=True)
    call_sid: Mapped[str] = mapped_column(String(34), index=True)
    number: Mapped[str] = mapped_column(String(20))
    flow_id: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[int] = mapped_column(Integer)
    locale: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # menu path, choices, wait...
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"offered": [...]}
    consent_id: Mapped[int] = mapped_column(Integer, refers_to("consent_records.id"))
    state: Mapped[str] = mapped_column(String(16), default="created")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    clicked_at: Mapped[datetime | None]


class SmsOutbox(Base):
    """One row per accepted offer: the SMS to send exactly once, and what became of it."""

    __tablename__ = "sms_outbox"
    __table_args__ = (Index("ix_sms_outbox_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    offer_key: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[int] = mapped_column(Integer, refers_to("chat_sessions.id"))
    call_sid: Mapped[str] = mapped_column(String(34))
    to: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    # pending -> sending -> queued|sent (accepted by the provider) -> delivered|undelivered|failed;
    # or refused (a permanent error at create time).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class InboundMessage(Base):
    """Every inbound chat message once (Twilio and Telegram retry): what came, and which call it joined."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(80), unique=True)  # MessageSid, or tg:<update_id>
    channel: Mapped[str] = mapped_column(String(16))  # whatsapp | sms | telegram | viber
    sender: Mapped[str] = mapped_column(String(64))  # E.164, or tg:<chat id>
    profile_name: Mapped[str | None] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    media: Mapped[dict[str, Any]] = mapped_column(default=dict)
    session_id: Mapped[int | None] = mapped_column(Integer, refers_to("chat_sessions.id"), index=True)
    # link | reference | number | sender | unmatched | expired | stop | refused
    match: Mapped[str] = mapped_column(String(24))
    flagged: Mapped[str | None] = mapped_column(String(48))  # e.g. reference_from_other_number
    received_at: Mapped[datetime]


class Handoff(Base):
    """One delivery of a chat and its call context to one agent platform (adapter); retried, and
    dead-lettered when it keeps failing, so nothing is lost."""

    __tablename__ = "handoffs"
    __table_args__ = (UniqueConstraint("inbound_id", "adapter"), Index("ix_handoffs_status", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inbound_id: Mapped[int] = mapped_column(Integer, refers_to("inbound_messages.id"))
    session_id: Mapped[int | None] = mapped_column(Integer, refers_to("chat_sessions.id"))
    adapter: Mapped[str] = mapped_column(String(24))  # conversations | webhook | card
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(80))  # e.g. the Conversation SID
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class AdminUser(Base):
    """A person who signs in to the admin console: one role each (`gateway.accounts.roles`). Never
    deleted (the audit log names them): deactivated instead."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its own parameters
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))
    last_login_at: Mapped[datetime | None]


# -- reports --------------------------------------------------------------------------------------------

# The upper bounds (seconds) of the timing histograms kept per hour: from the key press to the SMS
# accepted by the provider, and from that SMS to the chat. One more bucket holds everything longer.
TIMING_BOUNDS = (1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 10800, 86400)
TIMINGS = ("to_sms", "to_chat")
# What one hour of one slice adds up (`report_hours`): each is a count of calls, but for the sums.
COUNTERS = (
    "calls",  # reached a queue
    "offered",
    "refused",  # no offer: a refusal reason (landline, opted out, region, paused...)
    "declined",
    "accepted",
    "consented",
    "keyed_number",  # consented for a number keyed in, not the caller ID
    "sms_accepted",  # accepted by the provider
    "sms_delivered",
    "sms_failed",
    "clicked",
    "chat_started",
    "handed_off",
    "deflected",
    "reached_agent",
    "abandoned",
    "recontact_short",  # the same number called again within the short window (default 24 h)
    "recontact_long",  # ... within the long window (default 7 d)
    "deflected_recontact_short",
    "deflected_recontact_long",
    "wait_seconds",  # sum of the time spent in the queue
    "deflected_wait_seconds",
    "sms_segments",  # sum, from the outbox
)
# The dimensions of a slice; '' where a call has none (no channel, no variant, no refusal).
SLICE_COLUMNS = ("queue", "flow_id", "flow_version", "locale", "channel", "variant", "refusal")


class CallFact(Base):
    """One row per call that reached a queue, kept up to date as its events arrive (folded by
    `gateway.reporting.projector`): what reports count, row by row. Exports are these rows; the
    dashboard's totals are their sums, kept per hour in `report_hours`."""

    __tablename__ = "call_facts"
    __table_args__ = (
        Index("ix_call_facts_entered_at", "entered_at"),
        Index("ix_call_facts_caller_started", "caller", "started_at"),
    )

    call_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    caller: Mapped[str | None] = mapped_column(String(20))  # E.164; re-contact is matched on it
    flow_id: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[int] = mapped_column(Integer)
    locale: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(64))
    variant: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime]
    entered_at: Mapped[datetime]
    position: Mapped[int | None] = mapped_column(Integer)  # in the queue, when first known
    offers: Mapped[int] = mapped_column(Integer, default=0)
    offered_at: Mapped[datetime | None]
    refusal: Mapped[str] = mapped_column(String(40), default="")  # why no offer was made
    declined: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_at: Mapped[datetime | None]
    consented_at: Mapped[datetime | None]
    keyed_number: Mapped[bool] = mapped_column(Boolean, default=False)
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    sms_status: Mapped[str] = mapped_column(String(24), default="")
    sms_accepted_at: Mapped[datetime | None]
    sms_error: Mapped[int | None] = mapped_column(Integer)
    sms_segments: Mapped[int] = mapped_column(Integer, default=0)
    clicked_at: Mapped[datetime | None]
    channel: Mapped[str] = mapped_column(String(16), default="")
    chat_at: Mapped[datetime | None]
    matched: Mapped[str] = mapped_column(String(24), default="")  # link | reference | number | sender
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(
        String(16), default="waiting"
    )  # deflected | agent | abandoned | other
    waited_seconds: Mapped[int] = mapped_column(Integer, default=0)
    ended_at: Mapped[datetime | None]
    next_call_seconds: Mapped[int | None] = mapped_column(Integer)  # the same number's next call, after


class ReportCursor(Base):
    """How far the fold has read `call_events` (by id), and the ids it skipped that were not committed
    yet when it read past them (a concurrent writer's): looked for again for a while."""

    __tablename__ = "report_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    gaps: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"id": first seen missing (epoch s)}
    updated_at: Mapped[datetime]


report_hours = Table(
    "report_hours",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hour", UTCDateTime(timezone=True), nullable=False),  # UTC, on the hour
    Column("queue", String(64), nullable=False),
    Column("flow_id", String(64), nullable=False),
    Column("flow_version", Integer, nullable=False),
    Column("locale", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("variant", String(32), nullable=False),
    Column("refusal", String(40), nullable=False),
    *[Column(name, Integer, nullable=False, default=0) for name in COUNTERS],
    *[
        Column(f"{timing}_{bucket:02d}", Integer, nullable=False, default=0)
        for timing in TIMINGS
        for bucket in range(len(TIMING_BOUNDS) + 1)
    ],
    UniqueConstraint("hour", *SLICE_COLUMNS, name="uq_report_hours_slice"),
)
"""The sums of `call_facts` per UTC hour and slice, kept with them in the same transaction: every
report reads these (a few thousand rows for a quarter), never the facts."""


class ApiToken(Base):
    """A bearer token for the reports API: only its SHA-256 is kept; shown once when made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # the first characters, to tell tokens apart
    scope: Mapped[str] = mapped_column(String(24), default="reports")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

"""Bearer tokens for the reports API. A token is shown once, when it is made; only its SHA-256 and its
first characters (to tell tokens apart in a list) are kept. Making and revoking one is written to the
audit log; using one notes when it was last used, at most once a minute (a dashboard polling every few
seconds writes nothing more)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway.clock import Clock
from gateway.store.content import AuditWriter, Change
from gateway.store.db import Database
from gateway.store.models import ApiToken

PREFIX = "dr_"  # "deflect reports": a secret scanner can tell our tokens from others'
SCOPE = "reports"
SHOWN = 8  # characters kept in clear (the prefix and five more)
USE_NOTED_EVERY = timedelta(minutes=1)
MAX_NAME = 80


class TokenError(ValueError):
    """A request about tokens that cannot be done (no such token, an empty name)."""


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scope": self.scope,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokens:
    def __init__(self, database: Database, audit: AuditWriter, clock: Clock) -> None:
        self.database = database
        self.audit = audit
        self.clock = clock

    def add(self, name: str, *, actor: str) -> tuple[Token, str]:
        """A new token: its record and the secret, which is never shown again."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise TokenError(f"a token's name is 1 to {MAX_NAME} characters")
        secret = PREFIX + secrets.token_urlsafe(32)
        now = self.clock.now()
        with self.database.session() as session:
            row = ApiToken(
                name=name,
                token_sha256=digest(secret),
                prefix=secret[:SHOWN],
                scope=SCOPE,
                created_at=now,
                created_by=actor,
            )
            session.add(row)
            session.flush()
            token = _token(row)
        self.audit.record(Change(actor, "api_token.added", f"api_token:{token.id}", None, name), now)
        return token, secret

    def list(self) -> list[Token]:
        with self.database.session() as session:
            return [_token(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.id))]

    def revoke(self, token_id: int, *, actor: str) -> Token:
        """Stop a token working (from its next request). Revoking it again changes nothing."""
        now = self.clock.now()
        with self.database.session() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise TokenError(f"no token {token_id}")
            if row.revoked_at is not None:
                return _token(row)
            row.revoked_at = now
            token = _token(row)
        self.audit.record(
            Change(actor, "api_token.revoked", f"api_token:{token.id}", "active", "revoked"), now
        )
        return token

    def verify(self, secret: str, now: datetime | None = None) -> Token | None:
        """The active token this secret is, or None (unknown, malformed or revoked)."""
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        wanted = digest(secret)
        now = now or self.clock.now()
        with self.database.session() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == wanted))
            # The lookup is by the digest (an index); compare again in constant time all the same.
            if row is None or not hmac.compare_digest(row.token_sha256, wanted) or row.revoked_at:
                return None
            if row.last_used_at is None or now - _aware(row.last_used_at, now) >= USE_NOTED_EVERY:
                row.last_used_at = now
            return _token(row)


def _aware(at: datetime, like: datetime) -> datetime:
    """SQLite gives back naive datetimes; they are UTC like everything stored."""
    return at.replace(tzinfo=like.tzinfo) if at.tzinfo is None and like.tzinfo is not None else at


def _token(row: ApiToken) -> Token:
    return Token(
        row.id,
        row.name,
        row.prefix,
        row.scope,
        row.created_at,
        row.created_by,
        row.last_used_at,
        row.revoked_at,
    )

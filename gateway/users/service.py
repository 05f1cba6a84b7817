"""The admin console's users: add, list, change role, deactivate, and sign in.

Passwords are hashed with argon2id (argon2-cffi's defaults follow RFC 9106's recommendations) and
re-hashed on sign-in when those parameters change. Failed sign-ins are counted in Redis per account and
per client address (counters that may expire, as rate limits are); past the limit every attempt is
refused for the rest of the window, with the right password too, and the refusal says when to retry.
Every change and every sign-in is written to the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from gateway.clock import Clock
from gateway.store.content import AuditWriter, Change
from gateway.store.db import Database
from gateway.store.models import AdminUser
from gateway.users.roles import ROLES, Permission, may

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
FAILURES_PER_ACCOUNT = 5  # then the account is refused for the rest of the window
FAILURES_PER_ADDRESS = 20  # guessing many accounts from one address
WINDOW_SECONDS = 15 * 60
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Verified against when the account does not exist, so a wrong e-mail takes as long as a wrong password.
_DUMMY_HASH = PasswordHasher().hash("not a password of anyone")


class UserError(ValueError):
    """A request the accounts refuse (bad e-mail, unknown role, short password, duplicate). `reason`
    names it for a page in another language: email, role, password, exists, missing, self."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    active: bool
    created_at: datetime
    created_by: str
    last_login_at: datetime | None


@dataclass(frozen=True)
class SignIn:
    """The result of a sign-in: the user, or why not (`throttled` with the seconds to wait)."""

    user: User | None
    throttled: bool = False
    retry_after: int = 0


class Users:
    def __init__(
        self, database: Database, connection: redis.Redis | None, audit: AuditWriter, clock: Clock
    ) -> None:
        """`connection`: the Redis that counts failed sign-ins (None: this process manages accounts
        only, as `deflect users` does, and cannot sign anyone in)."""
        self.database = database
        self.redis = connection
        self.audit = audit
        self.clock = clock
        self.hasher = PasswordHasher()

    # -- managing accounts ------------------------------------------------------------------------

    def add(self, email: str, role: str, password: str, *, actor: str) -> User:
        email = normalise_email(email)
        check_role(role)
        check_password(password)
        now = self.clock.now()
        with self.database.session() as session:
            if session.scalar(select(AdminUser.id).where(AdminUser.email == email)) is not None:
                raise UserError(f"{email} already has an account", "exists")
            row = AdminUser(
                email=email,
                password_hash=self.hasher.hash(password),
                role=role,
                active=True,
                created_at=now,
                created_by=actor,
            )
            session.add(row)
            session.flush()
            user = _user(row)
        self.audit.record(Change(actor, "user.added", f"user:{email}", None, role), now)
        return user

    def list(self) -> list[User]:
        with self.database.session() as session:
            return [_user(row) for row in session.scalars(select(AdminUser).order_by(AdminUser.email))]

    def any(self) -> bool:
        """Whether anyone can sign in yet (the sign-in page says how to add the first user)."""
        with self.database.session() as session:
            return session.scalar(select(AdminUser.id).limit(1)) is not None

    def get(self, user_id: int) -> User | None:
        with self.database.session() as session:
            row = session.get(AdminUser, user_id)
            return _user(row) if row is not None else None

    def find(self, email: str) -> User | None:
        with self.database.session() as session:
            row = session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower()))
            return _user(row) if row is not None else None

    def set_role(self, email: str, role: str, *, actor: str, acting: str | None = None) -> User:
        """`acting`: the e-mail of the user making the change, who may not take away their own right
        to manage users (someone else must, so the console always keeps an admin who can)."""
        check_role(role)
        if acting is not None and _same(acting, email) and not may(role, Permission.OPERATE):
            raise UserError("you cannot take away your own admin role", "self")
        return self._change(email, actor, "user.role_changed", lambda row: setattr(row, "role", role), "role")

    def set_active(self, email: str, active: bool, *, actor: str, acting: str | None = None) -> User:
        """`acting`: as for `set_role`; nobody deactivates themselves."""
        if acting is not None and _same(acting, email) and not active:
            raise UserError("you cannot deactivate yourself", "self")
        action = "user.activated" if active else "user.deactivated"
        return self._change(email, actor, action, lambda row: setattr(row, "active", active), "active")

    def set_password(self, email: str, password: str, *, actor: str) -> User:
        check_password(password)
        digest = self.hasher.hash(password)
        return self._change(
            email, actor, "user.password_set", lambda row: setattr(row, "password_hash", digest), None
        )

    def _change(self, email: str, actor: str, action: str, apply: object, field: str | None) -> User:
        email = normalise_email(email)
        now = self.clock.now()
        with self.database.session() as session:
            row = session.scalar(select(AdminUser).where(AdminUser.email == email))
            if row is None:
                raise UserError(f"no account for {email}", "missing")
            before = str(getattr(row, field)) if field else None
            apply(row)  # type: ignore[operator]
            after = str(getattr(row, field)) if field else None
            user = _user(row)
        self.audit.record(Change(actor, action, f"user:{email}", before, after), now)
        return user

    # -- signing in -------------------------------------------------------------------------------

    def sign_in(self, email: str, password: str, *, address: str) -> SignIn:
        """Check a password, counting failures; a throttled account or address is refused unchecked."""
        if self.redis is None:
            raise RuntimeError("signing in needs the Redis that counts failures")
        email = email.strip().lower()
        keys = (_key("account", email), _key("address", address))
        waited = self._throttled(keys)
        if waited:
            self.audit.record(
                Change(email or "?", "user.sign_in_throttled", f"user:{email}"), self.clock.now()
            )
            return SignIn(None, throttled=True, retry_after=waited)
        now = self.clock.now()
        with self.database.session() as session:
            row = session.scalar(select(AdminUser).where(AdminUser.email == email))
            good = self._verify(row.password_hash if row is not None else _DUMMY_HASH, password)
            if row is None or not good or not row.active:
                user = None
            else:
                if self.hasher.check_needs_rehash(row.password_hash):
                    row.password_hash = self.hasher.hash(password)
                row.last_login_at = now
                user = _user(row)
        if user is None:
            self._count_failure(keys)
            self.audit.record(Change(email or "?", "user.sign_in_failed", f"user:{email}"), now)
            return SignIn(None)
        self._forget_failures(keys[0])
        self.audit.record(Change(email, "user.signed_in", f"user:{email}"), now)
        return SignIn(user)

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self.hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False

    def _throttled(self, keys: tuple[str, str]) -> int:
        assert self.redis is not None
        try:
            counts = self.redis.mget(keys)
            limits = (FAILURES_PER_ACCOUNT, FAILURES_PER_ADDRESS)
            for key, count, limit in zip(keys, counts, limits, strict=True):
                if count is not None and int(count) >= limit:
                    return max(int(self.redis.ttl(key)), 1)
        except redis.RedisError as exc:  # the limit is lost for a while; argon2 still makes guessing slow
            log.warning("sign-in throttle not checked (%s)", type(exc).__name__)
        return 0

    def _count_failure(self, keys: tuple[str, str]) -> None:
        assert self.redis is not None
        try:
            with self.redis.pipeline() as pipe:
                for key in keys:  # the window starts at the first failure (no EXPIRE NX before Redis 7)
                    pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
                    pipe.incr(key)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("sign-in failure not counted (%s)", type(exc).__name__)

    def _forget_failures(self, key: str) -> None:
        assert self.redis is not None
        try:
            self.redis.delete(key)
        except redis.RedisError:
            pass


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise UserError(f"{email!r} is not an e-mail address", "email")
    return email


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}", "role")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters", "password")


def _same(first: str, second: str) -> bool:
    return first.strip().lower() == second.strip().lower()


def _key(what: str, value: str) -> str:
    return f"admin:sign-in:{what}:" + hashlib.sha256(value.encode()).hexdigest()[:32]


def _user(row: AdminUser) -> User:
    return User(row.id, row.email, row.role, row.active, row.created_at, row.created_by, row.last_login_at)

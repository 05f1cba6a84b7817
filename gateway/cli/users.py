"""`deflect users`: the admin console's accounts. The database only, no Redis: they work with the
gateway up or down. A password is read from standard input, never from an argument (which `ps` and
shell histories show)."""

from __future__ import annotations

import sys
from typing import Any

import click

from gateway.cli import base
from gateway.users.roles import ROLES


def _users() -> Any:
    from gateway.clock import SystemClock
    from gateway.store.content import ContentStore
    from gateway.users.service import Users

    database = base.database()
    return Users(database, None, ContentStore(database), SystemClock())


def _as_json(user: Any) -> dict[str, Any]:
    return {
        "email": user.email,
        "role": user.role,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
        "created_by": user.created_by,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


class Refused(click.ClickException):
    """A request the accounts refuse: exit code 1, with the reason."""

    exit_code = 1


def _refused(exc: Exception) -> click.ClickException:
    return Refused(str(exc))


_by = click.option(
    "--by", default=None, help="who is making the change (default: cli:<login>), for the audit log"
)
_json = click.option("--json", "as_json", is_flag=True, help="print the user as JSON")


@click.group()
def users() -> None:
    """Who may sign in to the admin console (/admin), and with which role:
    viewer, agent, editor, publisher, admin."""


@users.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (else: prompt)")
@_by
@_json
def add(email: str, role: str, password_stdin: bool, by: str | None, as_json: bool) -> None:
    """Add a user; the password (at least 12 characters) comes from stdin or a prompt."""
    from gateway.users.service import UserError

    password = _read_password(password_stdin)
    try:
        user = _users().add(email, role, password, actor=base.actor(by))
    except UserError as exc:
        raise _refused(exc) from None
    if as_json:
        base.echo_json(_as_json(user))
    else:
        click.echo(f"added {user.email} as {user.role}")


@users.command("list")
@_json
def list_users(as_json: bool) -> None:
    """Every user, with role, state and last sign-in."""
    found = _users().list()
    if as_json:
        base.echo_json([_as_json(user) for user in found])
        return
    if not found:
        click.echo("no users yet: deflect users add EMAIL --role admin --password-stdin", err=True)
    for user in found:
        state = "active" if user.active else "deactivated"
        seen = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never signed in"
        click.echo(f"{user.email:40} {user.role:10} {state:12} {seen}")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(list(ROLES)))
@_by
@_json
def set_role(email: str, role: str, by: str | None, as_json: bool) -> None:
    """Change a user's role (in force from their next page)."""
    _change(
        lambda users: users.set_role(email, role, actor=base.actor(by)), as_json, f"role of {email}: {role}"
    )


@users.command("deactivate")
@click.argument("email")
@_by
@_json
def deactivate(email: str, by: str | None, as_json: bool) -> None:
    """Stop a user signing in (signed out at their next page). Users are never deleted: the audit
    log names them."""
    _change(
        lambda users: users.set_active(email, False, actor=base.actor(by)), as_json, f"deactivated {email}"
    )


@users.command("activate")
@click.argument("email")
@_by
@_json
def activate(email: str, by: str | None, as_json: bool) -> None:
    """Let a deactivated user sign in again."""
    _change(lambda users: users.set_active(email, True, actor=base.actor(by)), as_json, f"activated {email}")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (else: prompt)")
@_by
def set_password(email: str, password_stdin: bool, by: str | None) -> None:
    """Set a user's password."""
    password = _read_password(password_stdin)
    _change(
        lambda users: users.set_password(email, password, actor=base.actor(by)),
        False,
        f"password set for {email}",
    )


def _change(apply: Any, as_json: bool, done: str) -> None:
    from gateway.users.service import UserError

    try:
        user = apply(_users())
    except UserError as exc:
        raise _refused(exc) from None
    if as_json:
        base.echo_json(_as_json(user))
    else:
        click.echo(done)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: nothing was read from standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
